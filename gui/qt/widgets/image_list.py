"""The images dropped on the window: name, thumbnail, and the top class, the warning or the reason."""

from __future__ import annotations

from typing import Iterable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from resnet_studio.core.text import shown
from resnet_studio.gui.viewmodel.images import ImageEntry

from ..plain_text import tooltip


class ImageList(QListWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIconSize(QSize(48, 48))
        self.setUniformItemSizes(True)
        self.setAccessibleName("Images")
        self.items_by_id: dict[int, QListWidgetItem] = {}

    def current_id(self) -> int | None:
        item = self.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def add_many(self, entries: list[ImageEntry]) -> None:
        """Append a chunk of images at once; the first image added becomes the current one."""
        self.setUpdatesEnabled(False)
        try:
            for entry in entries:
                item = QListWidgetItem(shown(entry.name))
                item.setData(Qt.ItemDataRole.UserRole, entry.id)
                item.setToolTip(tooltip(entry.path))
                self.items_by_id[entry.id] = item
                self.addItem(item)
                self.show_entry(entry)
        finally:
            self.setUpdatesEnabled(True)
        if self.currentRow() < 0 and entries:
            self.setCurrentItem(self.items_by_id[entries[0].id])

    def show_entry(self, entry: ImageEntry, untrained: bool = False, waiting: bool = False) -> bool:
        """Bring an image's line up to date (``waiting``: its model is changing); True if it is the current one.

        ``untrained``: the model has random weights, and the line says its answer means nothing.
        """
        item = self.items_by_id.get(entry.id)
        if item is None:
            return False
        if entry.error and (entry.refused or not waiting):
            item.setText(f"{shown(entry.name)}\n⚠ {shown(entry.error.split(': ', 1)[-1])}")
            item.setForeground(self.palette().placeholderText())
        elif entry.result and not waiting:
            best = entry.result.predictions[0]
            line = f"{shown(best.label)} · {best.percent}"
            if untrained:
                line = f"random weights: {line}, meaningless"
            elif entry.result.out_of_distribution:
                line = f"⚠ unlike the training data: {line}"
            item.setText(f"{shown(entry.name)}\n{line}")
        else:
            item.setText(f"{shown(entry.name)}\n…")
        if entry.thumb is not None and item.icon().isNull():
            item.setIcon(QIcon(QPixmap.fromImage(entry.thumb)))
        return self.currentItem() is item

    def show_waiting(self, entries: Iterable[ImageEntry]) -> None:
        """Every image's line while a new model classifies them again."""
        for entry in entries:
            self.show_entry(entry, waiting=True)

    def clear_all(self) -> None:
        self.clear()
        self.items_by_id.clear()
