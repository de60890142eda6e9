"""A choice box built in one call."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox


def combo(name: str, items: list[tuple[str, object]], tip: str = "", min_contents: int = 0) -> QComboBox:
    """A choice with its accessible name and items; with ``min_contents``, as wide as that many characters
    whatever its items say (labels come from files: they must not set the window's width)."""
    box = QComboBox()
    box.setAccessibleName(name)
    for text, data in items:
        box.addItem(text, data)
    box.setToolTip(tip)
    if min_contents:
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(min_contents)
    return box
