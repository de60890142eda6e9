"""Every file dialog of the window: it opens in the folder used last (kept in the settings, so across runs too)
and suggests a name that says what the file holds."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

from resnet_studio.core.intake import IMAGE_SUFFIXES

from .window_settings import stored

IMAGE_FILTER = "Images (" + " ".join(f"*{s}" for s in IMAGE_SUFFIXES) + ");;All files (*)"


def file_stem(*parts: str) -> str:
    """Parts of a suggested file name joined by "-", with anything but letters, digits, "." and "_" made "-"
    (class labels and model names come from files: no slash, no control character, bounded)."""
    text = "-".join(p for p in parts if p)
    return re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9._]+", "-", text)).strip("-.")[:100] or "untitled"


class FileDialogs:
    def __init__(self, parent: QWidget, settings: QSettings) -> None:
        self.parent, self.settings = parent, settings

    def folder(self) -> str:
        """The folder used last, else the user's home."""
        folder = stored(self.settings, "last_folder", "", str)
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    def used(self, path: str) -> None:
        self.settings.setValue("last_folder", path if Path(path).is_dir() else str(Path(path).parent))

    def save_path(self, title: str, name: str, filters: str) -> tuple[str, str]:
        """The path a user chose to save to (or ""), and the filter chosen; starts at the last folder with ``name``."""
        path, chosen = QFileDialog.getSaveFileName(self.parent, title, str(Path(self.folder()) / name), filters)
        if path:
            self.used(path)
        return path, chosen

    def save_png(self, name: str, save, failed) -> None:
        """Ask where to save a PNG (suggesting ``name``), then ``save(path)``; an OSError goes to ``failed``."""
        path, _ = self.save_path("Save as PNG", name, "PNG image (*.png)")
        if not path:
            return
        try:
            save(path if path.lower().endswith(".png") else path + ".png")
        except OSError as exc:
            failed(str(exc))

    def open_path(self, title: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(self.parent, title, self.folder(), filters)
        if path:
            self.used(path)
        return path

    def open_paths(self, title: str, filters: str) -> list[str]:
        paths, _ = QFileDialog.getOpenFileNames(self.parent, title, self.folder(), filters)
        if paths:
            self.used(paths[0])
        return paths

    def folder_path(self, title: str) -> str:
        folder = QFileDialog.getExistingDirectory(self.parent, title, self.folder())
        if folder:
            self.used(folder)
        return folder
