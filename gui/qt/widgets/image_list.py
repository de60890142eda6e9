"""The images dropped on the window: name, thumbnail, and the top class, the warning or the reason."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from resnet_studio.core.text import shown
from ..plain_text import tooltip
from ..messages import ImageEntry


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

    def add(self, entry: ImageEntry) -> None:
        item = QListWidgetItem(shown(entry.name))
        item.setData(Qt.ItemDataRole.UserRole, entry.id)
        item.setToolTip(tooltip(entry.path))
        self.items_by_id[entry.id] = item
        self.addItem(item)
        self.show_entry(entry)
        if self.currentRow() < 0:
            self.setCurrentItem(item)

    def show_entry(self, entry: ImageEntry, waiting: bool = False) -> bool:
        """Bring an image's line up to date (``waiting``: its model is changing); True if it is the current one."""
        item = self.items_by_id.get(entry.id)
        if item is None:
            return False
        if entry.error:
            item.setText(f"{shown(entry.name)}\n⚠ {shown(entry.error.split(': ', 1)[-1])}")
            item.setForeground(self.palette().placeholderText())
        elif entry.result and not waiting:
            best = entry.result.predictions[0]
            line = f"{shown(best.label)} · {best.percent}"
            if entry.result.out_of_distribution:
                line = f"⚠ {line} — unlike the training data"
            item.setText(f"{shown(entry.name)}\n{line}")
        else:
            item.setText(f"{shown(entry.name)}\n…")
        if entry.thumb is not None and item.icon().isNull():
            item.setIcon(QIcon(QPixmap.fromImage(entry.thumb)))
        return self.currentItem() is item

    def clear_all(self) -> None:
        self.clear()
        self.items_by_id.clear()
