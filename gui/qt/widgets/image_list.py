"""The images dropped on the window: name, thumbnail, and the top class, the warning or the reason; above them
how many there are, what became of them, where they come from, and a filter."""

from __future__ import annotations

from typing import Iterable

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from resnet_studio.core.text import shown
from resnet_studio.gui.viewmodel.images import FILTERS, ImageEntry, summary

from ..plain_text import plain_label, tooltip

ICON = 48
MIN_WIDTH = 190  # below this the lines read as "⚠ Ba…": the splitter stops here


class ImageList(QListWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIconSize(QSize(ICON, ICON))
        self.setUniformItemSizes(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setWordWrap(False)
        self.setMinimumWidth(MIN_WIDTH)
        self.setAccessibleName("Images")
        self.items_by_id: dict[int, QListWidgetItem] = {}
        self.entries: dict[int, ImageEntry] = {}
        self._thumbs: set[int] = set()  # the images whose thumbnail is in
        self.shown_states = FILTERS["all"]
        # Every row has an icon from the start, so a thumbnail arriving never changes a row's height.
        blank = QPixmap(ICON, ICON)
        blank.fill(QColor(0, 0, 0, 0))
        self._blank = QIcon(blank)
        self.header = ImageListHeader(self)
        self._summary_timer = QTimer(self, singleShot=True, interval=150, timeout=self._refresh_header)

    def current_id(self) -> int | None:
        item = self.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def add_many(self, entries: list[ImageEntry]) -> None:
        """Append a chunk of images at once; the first image added becomes the current one."""
        self.setUpdatesEnabled(False)
        try:
            for entry in entries:
                item = QListWidgetItem(self._blank, shown(entry.name))
                item.setData(Qt.ItemDataRole.UserRole, entry.id)
                item.setToolTip(tooltip(entry.path))
                self.items_by_id[entry.id] = item
                self.entries[entry.id] = entry
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
            if entry.intact is not None and entry.intact.predictions:
                was = entry.intact.predictions[0]
                line = f"✂ {line} (intact: {shown(was.label) + ' ' if was.index != best.index else ''}{was.percent})"
            item.setText(f"{shown(entry.name)}\n{line}")
        else:
            item.setText(f"{shown(entry.name)}\n…")
        if entry.thumb is not None and entry.id not in self._thumbs:
            item.setIcon(QIcon(QPixmap.fromImage(entry.thumb)))
            self._thumbs.add(entry.id)
        item.setHidden(entry.state not in self.shown_states)
        self._summary_timer.start()
        return self.currentItem() is item

    def show_waiting(self, entries: Iterable[ImageEntry]) -> None:
        """Every image's line while a new model classifies them again."""
        for entry in entries:
            self.show_entry(entry, waiting=True)

    def set_filter(self, name: str) -> None:
        """Show only the images in FILTERS[name]'s states."""
        self.shown_states = FILTERS[name]
        for entry_id, item in self.items_by_id.items():
            item.setHidden(self.entries[entry_id].state not in self.shown_states)
        self._refresh_header()

    def clear_all(self) -> None:
        self.clear()
        self.items_by_id.clear()
        self.entries.clear()
        self._thumbs.clear()
        self._refresh_header()

    def _refresh_header(self) -> None:
        text = summary(list(self.entries.values()))
        hidden = sum(1 for item in self.items_by_id.values() if item.isHidden())
        if hidden and hidden == len(self.items_by_id):
            text += " · none matches the filter"
        elif hidden:
            text += f" · {hidden:,} hidden by the filter"
        self.header.show_summary(text)


class ImageListHeader(QWidget):
    """The list's summary line and its filter."""

    def __init__(self, images: ImageList) -> None:
        super().__init__()
        self.text = plain_label()
        self.text.setWordWrap(True)
        # Two lines whatever it says: the list below never moves when the summary grows.
        self.text.setFixedHeight(2 * self.text.fontMetrics().lineSpacing() + 2)
        self.filter = QComboBox()
        self.filter.setAccessibleName("Show images")
        self.filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.filter.setMinimumContentsLength(10)
        for name in FILTERS:
            self.filter.addItem(name, name)
        self.filter.currentIndexChanged.connect(lambda _: images.set_filter(self.filter.currentData()))
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(plain_label("Show"))
        row.addWidget(self.filter, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addWidget(self.text)
        layout.addLayout(row)
        self.show_summary(summary([]))

    def show_summary(self, text: str) -> None:
        self.text.setText(shown(text, 300))
        self.text.setToolTip(tooltip(text))
