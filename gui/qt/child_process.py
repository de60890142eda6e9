"""Children started from the app through QProcess, by the core's one launcher (``core.children``)."""

from __future__ import annotations

from PySide6.QtCore import QProcess

from resnet_studio.core import children


def start_child(process: QProcess, name: str, *args: object) -> None:
    """Start child ``name`` of ``children.MODULES`` with isolated paths in its private working folder."""
    program, *arguments = children.argv(name, *args)
    process.setWorkingDirectory(children.working_folder())
    process.start(program, arguments)
