"""What one block adds: its input, F(x), the shortcut and the output, channel by channel, and the
layer responses of the whole network (He et al. 2015, Fig. 7) drawn with pyqtgraph."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from resnet_studio.gui.viewmodel.colormap import colorize
from resnet_studio.core.engine import BlockParts
from resnet_studio.core.text import shown
from ..plain_text import plain_label
from ..qt_images import rgb_to_qimage

CELL = 60  # the side of one map in the x / F(x) / shortcut / output grid, smaller than a channel tile
ROWS = ("input x", "F(x)", "shortcut", "output")


def _number(value: float) -> str:
    return f"{value:.3g}"


class BlockAddsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = plain_label()
        self.caption.setWordWrap(True)
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        holder = QWidget()
        holder.setLayout(self.grid)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(holder)
        scroll.setFixedHeight(4 * (CELL + 4) + 44)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumHeight(150)
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.plot.setLabel("bottom", "block (network order)")
        self.plot.setLabel("left", "std of F(x)")
        self.plot.setTitle("Layer responses, as in He et al. (2015), Fig. 7", size="9pt")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.current = self.plot.plot([], [], pen=pg.mkPen("#1f5fbf", width=2), symbol="o", symbolSize=5,
                                      symbolBrush="#1f5fbf", name="this image")
        self.average = self.plot.plot([], [], pen=pg.mkPen("#d9730d", width=2, style=Qt.PenStyle.DashLine),
                                      name="mean over the loaded images")
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#9a9a9a", style=Qt.PenStyle.DotLine))
        self.plot.addItem(self.marker)
        self.marker.hide()
        self.plot_note = plain_label()
        self.plot_note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(scroll, 3)
        layout.addWidget(self.plot, 2)
        layout.addWidget(self.plot_note)
        self.blocks: list[str] = []

    def _clear_grid(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()

    def clear(self) -> None:
        self._clear_grid()
        self.caption.setText("")
        self.current.setData([], [])
        self.average.setData([], [])
        self.marker.hide()
        self.plot_note.setText("")

    def set_blocks(self, blocks: list[str]) -> None:
        """The blocks the plot's x axis counts, in network order (layer1.0, ...)."""
        self.blocks = blocks
        ticks = [(i, shown(b.removesuffix(".0"), 20)) for i, b in enumerate(blocks)
                 if b.endswith(".0")]
        self.plot.getAxis("bottom").setTicks([ticks, []])

    def show_parts(self, parts: BlockParts) -> None:
        self._clear_grid()
        rows = [parts.input, parts.branch, parts.shortcut, parts.output]
        # One scale per channel across F(x), the shortcut and the output, so the sum can be read off.
        same = [r for r in rows[1:] if r is not None]
        low = np.minimum.reduce([r.min(axis=(1, 2)) for r in same])
        high = np.maximum.reduce([r.max(axis=(1, 2)) for r in same])
        for row, (title, values) in enumerate(zip(ROWS, rows)):
            name = title if not (row == 2 and parts.shortcut is not None) else (
                "shortcut: projection" if parts.projection else "shortcut = x")
            label = plain_label(name if values is not None else f"{title}: none (plain network)")
            label.setFixedWidth(96)
            label.setWordWrap(True)
            self.grid.addWidget(label, row, 0)
            if values is None or len(values) == 0:
                continue
            channels = parts.input_channels if row == 0 else parts.channels
            for i, channel in enumerate(channels):
                if row == 0 and parts.projection:
                    lo, hi = values[i].min(), values[i].max()
                else:
                    lo, hi = low[i], high[i]
                span = hi - lo if hi > lo else 1.0
                tile = colorize((values[i] - lo) / span)
                picture = plain_label()
                picture.setFixedSize(CELL, CELL)
                picture.setPixmap(QPixmap.fromImage(rgb_to_qimage(tile)).scaled(
                    CELL, CELL, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))
                picture.setToolTip(f"channel {channel}: {_number(values[i].min())} to {_number(values[i].max())}, "
                                   f"mean {_number(values[i].mean())}")
                self.grid.addWidget(picture, row, i + 1)
        for i, channel in enumerate(parts.channels):
            self.grid.addWidget(plain_label(f"ch {channel}"), len(ROWS), i + 1, Qt.AlignmentFlag.AlignCenter)
        self.grid.setRowStretch(len(ROWS) + 1, 1)
        block = parts.block
        growth = float(np.abs(parts.branch).mean() / max(1e-12, np.abs(parts.output).mean()))
        self.caption.setText(
            f"{shown(block, 60)}, its {len(parts.channels)} strongest channels: output = ReLU(F(x) + shortcut), "
            f"each column on one scale; |F(x)| is {growth:.0%} of |output| on average."
            + (" The projection changes the shape: the input row shows its own strongest channels."
               if parts.projection and parts.input_channels else ""))
        if parts.block in self.blocks:
            self.marker.setValue(self.blocks.index(parts.block))
            self.marker.show()

    def show_responses(self, current: np.ndarray | None, average: np.ndarray | None, images: int) -> None:
        if current is not None:
            self.current.setData(np.arange(len(current)), current)
        if average is not None:
            self.average.setData(np.arange(len(average)), average)
        if images:
            self.plot_note.setText(f"The paper's observation: residual functions tend to respond less than plain "
                                   f"layers, and less the deeper the network. Mean over {images} loaded image(s).")
