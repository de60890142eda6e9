"""Feature maps of one block (top-N channels, viridis) and the class activation map over the image."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QScrollArea,
                               QSlider, QSpinBox, QVBoxLayout, QWidget)

from ..core.colormap import colorize, overlay
from ..core.engine import FeatureMaps
from ..core.model_file import ModelInfo
from ..core.text import shown
from ..plain_text import plain_label
from ..qt_images import rgb_to_qimage

TILE = 96


class ActivationsPanel(QWidget):
    """Asks for work through ``requested``; the owner decides when (only while the panel is visible)."""

    requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.block = QComboBox()
        self.block.setAccessibleName("Block")
        self.block.setMinimumContentsLength(14)
        self.top_n = QSpinBox()
        self.top_n.setRange(1, 64)
        self.top_n.setValue(16)
        self.cam_class = QComboBox()
        self.cam_class.setAccessibleName("CAM class")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(55)
        self.opacity.setAccessibleName("CAM opacity")

        controls = QFormLayout()
        controls.addRow(plain_label("Block"), self.block)
        controls.addRow(plain_label("Channels"), self.top_n)
        self.grid_box = QGroupBox("Feature maps")
        self.grid = QGridLayout()
        self.grid.setSpacing(6)
        holder = QWidget()
        holder.setLayout(self.grid)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(holder)
        box_layout = QVBoxLayout(self.grid_box)
        box_layout.addLayout(controls)
        box_layout.addWidget(scroll)

        self.cam_box = QGroupBox("Class activation map")
        self.cam_view = plain_label("Select an image.")
        self.cam_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cam_view.setMinimumSize(200, 200)
        cam_controls = QFormLayout()
        cam_controls.addRow(plain_label("Class"), self.cam_class)
        cam_controls.addRow(plain_label("Opacity"), self.opacity)
        cam_layout = QVBoxLayout(self.cam_box)
        cam_layout.addLayout(cam_controls)
        cam_layout.addWidget(self.cam_view, 1)

        layout = QHBoxLayout(self)
        layout.addWidget(self.grid_box, 3)
        layout.addWidget(self.cam_box, 2)
        self._image: np.ndarray | None = None
        self._cam: np.ndarray | None = None
        self.block.currentIndexChanged.connect(lambda _: self.requested.emit())
        self.top_n.valueChanged.connect(lambda _: self.requested.emit())
        self.cam_class.currentIndexChanged.connect(lambda _: self.requested.emit())
        self.opacity.valueChanged.connect(lambda _: self._draw_cam())

    def set_model(self, info: ModelInfo) -> None:
        for combo in (self.block, self.cam_class):
            combo.blockSignals(True)
            combo.clear()
        for name in info.activation_outputs:
            self.block.addItem(shown(name.removeprefix("act.")), name)
        self.cam_class.addItem("top class", None)
        for index, label in enumerate(info.labels):
            self.cam_class.addItem(f"{index}: {shown(label)}", index)
        for combo in (self.block, self.cam_class):
            combo.blockSignals(False)
        available = info.has_activations
        self.grid_box.setEnabled(available)
        self.cam_box.setEnabled(info.has_cam)
        self._clear_grid()
        self.cam_view.setText("" if available else "This model file carries no activation outputs.")
        self._image = self._cam = None

    def select_block(self, name: str) -> None:
        index = self.block.findData(f"act.{name}" if not name.startswith("act.") else name)
        if index >= 0:
            self.block.setCurrentIndex(index)

    def current_block(self) -> str | None:
        return self.block.currentData()

    def current_class(self) -> int | None:
        return self.cam_class.currentData()

    def _clear_grid(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()

    def show_maps(self, maps: FeatureMaps) -> None:
        self._clear_grid()
        columns = max(1, (self.grid_box.width() - 40) // (TILE + 8))
        tiles = colorize(maps.maps)
        c, h, w = maps.shape
        for i, (channel, tile) in enumerate(zip(maps.channels, tiles)):
            cell = QWidget()
            cell_layout = QVBoxLayout(cell)
            cell_layout.setContentsMargins(0, 0, 0, 0)
            cell_layout.setSpacing(2)
            picture = plain_label()
            picture.setFixedSize(TILE, TILE)
            picture.setPixmap(QPixmap.fromImage(rgb_to_qimage(tile)).scaled(
                TILE, TILE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))
            picture.setToolTip(f"channel {channel}, mean activation {maps.means[i]:.3g}")
            caption = plain_label(f"ch {channel}")
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            cell_layout.addWidget(picture)
            cell_layout.addWidget(caption)
            self.grid.addWidget(cell, i // columns, i % columns, Qt.AlignmentFlag.AlignTop)
        self.grid.setRowStretch(len(maps.channels) // columns + 1, 1)
        self.grid_box.setTitle(f"Feature maps · {shown(maps.block.removeprefix('act.'))} · {c}×{h}×{w}, "
                               f"top {len(maps.channels)} channels by mean activation")

    def show_cam(self, image_rgb: np.ndarray, cam: np.ndarray, class_label: str) -> None:
        self._image, self._cam = image_rgb, cam
        self.cam_box.setTitle(f"Class activation map · {shown(class_label)}")
        self._draw_cam()

    def _draw_cam(self) -> None:
        if self._image is None or self._cam is None:
            return
        blended = overlay(self._image, self._cam, self.opacity.value() / 100)
        pixmap = QPixmap.fromImage(rgb_to_qimage(blended))
        size = self.cam_view.size()
        self.cam_view.setPixmap(pixmap.scaled(size.width() - 4, size.height() - 4, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))
