"""The pieces of the feature-map view: the colour legend, a clickable channel tile, and one channel enlarged."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import QCheckBox, QDialog, QHBoxLayout, QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from resnet_studio.gui.viewmodel.colormap import VIRIDIS, colorize, overlay
from resnet_studio.core.text import shown
from ..plain_text import plain_label, tooltip
from ..qt_images import rgb_to_qimage
from ..style import draw_focus_ring

TILE = 96
ENLARGED = 360


def number(value: float) -> str:
    return f"{value:.3g}"


class ColourLegend(QWidget):
    """The viridis scale and the values its two ends stand for."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        strip = np.repeat(VIRIDIS[None, :, :], 12, axis=0)
        self.strip = plain_label()
        self.strip.setScaledContents(True)
        self.strip.setPixmap(QPixmap.fromImage(rgb_to_qimage(strip)))
        self.strip.setMinimumWidth(120)
        self.strip.setFixedHeight(12)
        self.strip.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.low, self.high = plain_label(), plain_label()
        self.low.setObjectName("legendLow")
        self.high.setObjectName("legendHigh")
        self.note = plain_label()
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.low)
        row.addWidget(self.strip, 1)
        row.addWidget(self.high)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.note)
        self.set_range(None, None, shared=True)

    def show_scale(self, low: str, high: str, note: str) -> None:
        """What the two ends stand for, and how to read the scale."""
        self.low.setText(low)
        self.high.setText(high)
        self.note.setText(note)
        self.note.setVisible(bool(note))  # no empty line where there is nothing to say

    def set_range(self, low: float | None, high: float | None, shared: bool) -> None:
        """The feature maps' scale: one for every channel shown, or each channel's own."""
        if low is None or high is None:
            self.show_scale("low", "high", "")
        elif shared:
            self.show_scale(number(low), number(high),
                            "One scale for every channel shown: a weak or dead channel stays dark.")
        else:
            self.show_scale("min", "max", f"Each channel stretched over its own range (values here run from "
                                          f"{number(low)} to {number(high)}): shapes show, strength does not.")


class MapPicture(QLabel):
    """A map drawn without smoothing that says, under the mouse, the value there, its position and what part
    of the input it sees (``describe(row, col, value)``), as CNN Explainer does."""

    def __init__(self, values: np.ndarray, pixmap: QPixmap, side: int, describe) -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setFixedSize(side, side)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setPixmap(pixmap)
        self.setMouseTracking(True)
        self.values, self.describe = values, describe
        self.hover_text = ""

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        height, width = self.values.shape
        shown_w, shown_h = self.pixmap().width(), self.pixmap().height()
        if not (0 <= x < shown_w and 0 <= y < shown_h):
            return None
        return int(y * height / shown_h), int(x * width / shown_w)

    def mouseMoveEvent(self, event) -> None:
        cell = self.cell_at(event.position().x(), event.position().y())
        if cell is not None and self.describe is not None:
            self.hover_text = self.describe(*cell, float(self.values[cell]))
            QToolTip.showText(event.globalPosition().toPoint(), tooltip(self.hover_text), self)
        super().mouseMoveEvent(event)


class Tile(QWidget):
    """One channel's map: a click, or Return or Space once Tab has reached it, opens it large; the mouse over
    it tells the value under it."""

    clicked = Signal(int)

    def __init__(self, channel: int, pixmap: QPixmap, tip: str, caption: str, values: np.ndarray | None = None,
                 describe=None) -> None:
        super().__init__()
        self.channel = channel
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName(caption)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(3, 3, 3, 3)  # room for the focus ring around the map
        layout.setSpacing(2)
        self.picture = picture = MapPicture(values if values is not None else np.zeros((1, 1)), pixmap, TILE,
                                            describe)
        self.setToolTip(tooltip(tip))
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        text = plain_label(caption)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(picture)
        layout.addWidget(text)

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.channel)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit(self.channel)
        else:
            super().keyPressEvent(event)

    def focusInEvent(self, event) -> None:
        super().focusInEvent(event)
        self.update()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        self.update()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.hasFocus():
            painter = QPainter(self)
            draw_focus_ring(painter, self.rect(), self.palette())
            painter.end()


class ChannelDialog(QDialog):
    """One channel, enlarged without smoothing, alone or over the model's input."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.picture = plain_label()
        self.picture.setFixedSize(ENLARGED, ENLARGED)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.over_input = QCheckBox("Over the model's input")
        self.caption = plain_label()
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picture)
        layout.addWidget(self.caption)
        layout.addWidget(self.over_input)
        self.over_input.toggled.connect(lambda _: self._draw())
        self._map: np.ndarray | None = None
        self._input: np.ndarray | None = None

    def show_channel(self, title: str, caption: str, heat: np.ndarray, model_input: np.ndarray | None) -> None:
        self.setWindowTitle(shown(title, 120))
        self.caption.setText(shown(caption, 300))
        self._map, self._input = heat, model_input
        self.over_input.setEnabled(model_input is not None)
        self._draw()
        self.show()
        self.raise_()

    def show_feature_map(self, maps, channel: int, shared: bool, model_input: np.ndarray | None) -> None:
        """One channel of a block's ``FeatureMaps``, with its figures, on the scale the grid uses."""
        i = maps.channels.index(channel)
        scaled, _, _ = maps.scaled(shared)
        values = maps.values[i]
        self.show_channel(
            f"{maps.block} · channel {channel}",
            f"{maps.block}, channel {channel} of {maps.shape[0]}: {maps.shape[1]}×{maps.shape[2]} values from "
            f"{number(values.min())} to {number(values.max())}, mean {number(maps.means[i])}; "
            f"{'shared' if shared else 'per-channel'} scale.", scaled[i], model_input)

    def _draw(self) -> None:
        if self._map is None:
            return
        if self.over_input.isChecked() and self._input is not None:
            h, w = self._input.shape[:2]
            upsampled = np.asarray(Image.fromarray(self._map.astype(np.float32), mode="F").resize(
                (w, h), Image.Resampling.BILINEAR))
            picture = overlay(self._input, np.clip(upsampled, 0, 1), 0.6)
        else:
            picture = colorize(self._map)
        self.picture.setPixmap(QPixmap.fromImage(rgb_to_qimage(picture)).scaled(
            ENLARGED, ENLARGED, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))
