"""The image as dropped, with the crop the model sees outlined, beside the exact input it was given."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from ..plain_text import plain_label
from ..qt_images import draw_crop_box, rgb_to_qimage

INPUT_SIDE = 168
OOD_BANNER = "⚠ Unlike this model's training data"


class InputView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.original = plain_label()
        self.original.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.original.setMinimumSize(200, 160)
        self.original.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.original.setAccessibleName("Image")
        self.crop_note = plain_label()
        self.crop_note.setWordWrap(True)
        self.crop_note.setObjectName("cropNote")
        self.model_input = plain_label()
        self.model_input.setFixedSize(INPUT_SIDE, INPUT_SIDE)
        self.model_input.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.model_input.setAccessibleName("Model input")
        self.input_note = plain_label()
        self.input_note.setWordWrap(True)
        self.input_note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        row = QHBoxLayout()
        row.addWidget(self.model_input)
        row.addWidget(self.input_note, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.original, 1)
        layout.addWidget(self.crop_note)
        layout.addLayout(row)
        self._preview: QPixmap | None = None
        self._box: tuple[float, float, float, float] | None = None
        self._unlike = False
        self.clear("")

    def clear(self, text: str) -> None:
        self._preview = None
        self.original.clear()
        self.original.setText(text)
        self.model_input.clear()
        self.crop_note.setText("")
        self.input_note.setText("")

    def show_input(self, preview: np.ndarray, box: tuple[float, float, float, float] | None,
                   model_input: np.ndarray, described: str, unlike_training_data: bool) -> None:
        """``box`` is the crop in ``preview`` pixels, or None when the model sees the whole image."""
        self._preview = QPixmap.fromImage(rgb_to_qimage(preview))
        self._box, self._unlike = box, unlike_training_data
        self.crop_note.setText("The dashed box is the part of the image the model sees; the rest is cut off."
                               if box else "The model sees the whole image.")
        height, width = model_input.shape[:2]
        # Nearest-neighbour: a 28×28 input stays visibly 28×28 pixels.
        picture = QPixmap.fromImage(rgb_to_qimage(model_input)).scaled(
            INPUT_SIDE, INPUT_SIDE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
        self.model_input.setPixmap(picture)
        self.input_note.setText(f"What the model receives, exactly: {described}."
                                + (f"\nShown {INPUT_SIDE // max(height, width)}× enlarged." if max(height, width) < INPUT_SIDE
                                   else ""))
        self._draw()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._draw()

    def _draw(self) -> None:
        if self._preview is None:
            return
        size = self.original.size()
        scaled = self._preview.scaled(size.width() - 4, size.height() - 4, Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation)
        if self._box is not None:
            scaled = draw_crop_box(scaled, self._box, scaled.width() / self._preview.width())
        if self._unlike:
            scaled = _with_banner(scaled, OOD_BANNER)
        self.original.setPixmap(scaled)


def _with_banner(pixmap: QPixmap, text: str) -> QPixmap:
    """A warning strip across the top of the picture itself, where the eye already is."""
    copy = QPixmap(pixmap)
    painter = QPainter(copy)
    height = QLabel().fontMetrics().height() + 10
    strip = QRectF(0, 0, copy.width(), min(height, copy.height()))
    painter.fillRect(strip, QColor(255, 244, 229, 235))
    painter.setPen(QColor(122, 65, 0))
    painter.drawText(strip.adjusted(6, 0, -6, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, text)
    painter.end()
    return copy
