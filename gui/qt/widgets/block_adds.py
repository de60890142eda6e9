"""What one block adds: its input, F(x), the shortcut and the output, channel by channel, and the
layer responses of the whole network (He et al. 2015, Fig. 7) drawn with pyqtgraph."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QAbstractScrollArea, QGridLayout, QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from resnet_studio.gui.viewmodel.colormap import colorize
from resnet_studio.core.engine import BlockParts
from resnet_studio.core.text import shown
from ..plain_text import plain_label
from ..qt_images import rgb_to_qimage
from .channels import MapPicture

CELL, MIN_CELL = 60, 28  # the side of one map in the x / F(x) / shortcut / output grid: shrinks to fit the width
NAME_W, GAP = 96, 4
ROWS = ("input x", "F(x)", "shortcut", "output")
CURRENT, AVERAGE = "#1f5fbf", "#d9730d"


class StillPlot(pg.PlotWidget):
    """A plot that reads, not one you navigate: the wheel scrolls the panel around it, and a drag does nothing."""

    def __init__(self, **options) -> None:
        super().__init__(background="w", **options)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMenuEnabled(False)

    def wheelEvent(self, event) -> None:
        """Scroll the scroll area that holds the panel, as the wheel would anywhere else in it (an ignored
        event does not get there: the graphics view's viewport keeps it)."""
        area = self.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is None:
            event.ignore()
            return
        bar = area.verticalScrollBar()
        bar.setValue(bar.value() - round(event.angleDelta().y() / 120 * 3 * bar.singleStep()))
        event.accept()

    def sizeHint(self) -> QSize:
        return QSize(400, 180)  # pyqtgraph's own hint is tall enough to push the plot below the fold


def _number(value: float) -> str:
    return f"{value:.3g}"


class BlockAddsView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = plain_label()
        self.caption.setWordWrap(True)
        self.grid = QGridLayout()
        self.grid.setSpacing(GAP)
        self.grid.setContentsMargins(0, 0, 0, 0)
        # Sized from the cells it holds: the layout never squeezes the maps into the plot below.
        self.grid_holder = QWidget()
        self.grid_holder.setLayout(self.grid)
        self.plot = StillPlot()
        self.plot.setMinimumHeight(140)
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.plot.setLabel("bottom", "block (network order)")
        self.plot.setLabel("left", "std of F(x)")
        self.plot.setTitle("Layer responses, as in He et al. (2015), Fig. 7", size="9pt")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        # The key sits under the plot, never over its curves.
        self.key = QWidget()
        key = QHBoxLayout(self.key)
        key.setContentsMargins(0, 0, 0, 0)
        for text, colour in (("━━●━━ this image", CURRENT), ("╍╍╍╍ mean over the loaded images", AVERAGE)):
            part = plain_label(text)
            part.setStyleSheet(f"color: {colour}")
            key.addWidget(part)
        key.addStretch(1)
        self.current = self.plot.plot([], [], pen=pg.mkPen(CURRENT, width=2), symbol="o", symbolSize=5,
                                      symbolBrush=CURRENT)
        self.average = self.plot.plot([], [], pen=pg.mkPen(AVERAGE, width=2, style=Qt.PenStyle.DashLine))
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#9a9a9a", style=Qt.PenStyle.DotLine))
        self.plot.addItem(self.marker)
        self.marker.hide()
        # How close each block is to the identity, ‖F(x)‖ / ‖x‖: the residual pushed towards zero, per block.
        self.near = StillPlot()
        self.near.setMinimumHeight(120)
        self.near.setLabel("left", "‖F(x)‖ / ‖x‖")
        self.near.setTitle("How close each block is to the identity (mean over the loaded images)", size="9pt")
        self.near.showGrid(x=True, y=True, alpha=0.25)
        self.closeness = self.near.plot([], [], pen=None, symbol="s", symbolSize=7, symbolBrush=AVERAGE)
        self.plot_note = plain_label()
        self.plot_note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.grid_holder)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.key)
        layout.addWidget(self.near)
        layout.addWidget(self.plot_note)
        self.blocks: list[str] = []
        self._parts: BlockParts | None = None
        self.describer = None  # (block, what) -> describe(row, col, value): the hover text, set by the panel
        self._cell = CELL
        self._curves: dict[str, np.ndarray] = {}
        self._images = 0

    def cell_for(self, width: int, channels: int) -> int:
        """The map size at which a row of ``channels`` fits ``width``: no scrolling sideways."""
        room = width - NAME_W - GAP * (channels + 2)
        return int(max(MIN_CELL, min(CELL, room // max(1, channels))))

    def _room(self) -> int:
        """The width there is: the scroll area's, less a vertical scroll bar whether it shows or not, so that
        the bar coming and going never changes the maps' size (and so the height that brings it)."""
        area = self.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is None:
            return self.width()
        bar = area.style().pixelMetric(area.style().PixelMetric.PM_ScrollBarExtent)
        return area.width() - 2 * area.frameWidth() - bar

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._parts is not None and self.cell_for(self._room(), len(self._parts.channels)) != self._cell:
            self.show_parts(self._parts)

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
        self._parts, self._curves, self._images = None, {}, 0
        self.closeness.setData([], [])

    def set_blocks(self, blocks: list[str]) -> None:
        """The blocks the plot's x axis counts, in network order (layer1.0, ...)."""
        self.blocks = blocks
        ticks = [(i, shown(b.removesuffix(".0"), 20)) for i, b in enumerate(blocks)
                 if b.endswith(".0")]
        self.plot.getAxis("bottom").setTicks([ticks, []])
        self.near.getAxis("bottom").setTicks([ticks, []])

    def show_parts(self, parts: BlockParts) -> None:
        self._clear_grid()
        self._parts, block = parts, parts.block
        self._cell = cell = self.cell_for(self._room(), len(parts.channels))
        rows = [parts.input, parts.branch, parts.shortcut, parts.output]
        # One scale per channel across F(x), the shortcut and the output, so the sum can be read off.
        same = [r for r in rows[1:] if r is not None]
        low = np.minimum.reduce([r.min(axis=(1, 2)) for r in same])
        high = np.maximum.reduce([r.max(axis=(1, 2)) for r in same])
        for row, (title, values) in enumerate(zip(ROWS, rows)):
            name = title if not (row == 2 and parts.shortcut is not None) else (
                "shortcut: projection" if parts.projection else "shortcut = x")
            label = plain_label(name if values is not None else f"{title}: none (plain network)")
            label.setFixedWidth(NAME_W)
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
                # x is the output of the block before (or the stem): its positions see that block's field.
                where = block if row else (self.blocks[self.blocks.index(block) - 1]
                                           if block in self.blocks[1:] else "stem")
                picture = MapPicture(values[i], QPixmap.fromImage(rgb_to_qimage(tile)).scaled(
                    cell, cell, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation), cell,
                    self.describer(where, f"{name}, ch {channel}") if self.describer else None)
                picture.setToolTip(f"channel {channel}: {_number(values[i].min())} to {_number(values[i].max())}, "
                                   f"mean {_number(values[i].mean())}")
                self.grid.addWidget(picture, row, i + 1)
        for i, channel in enumerate(parts.channels):
            self.grid.addWidget(plain_label(f"ch {channel}"), len(ROWS), i + 1, Qt.AlignmentFlag.AlignCenter)
        caption_h = self.fontMetrics().lineSpacing() + 4
        self.grid_holder.setFixedSize(NAME_W + (GAP + cell) * max(1, len(parts.channels)) + GAP,
                                      len(ROWS) * (cell + GAP) + caption_h)
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
            self._curves["this image"] = np.asarray(current)
        if average is not None:
            self.average.setData(np.arange(len(average)), average)
            self._curves["the loaded images"] = np.asarray(average)
        self._images = images or self._images
        self.plot_note.setText(self.responses_caption())

    def show_closeness(self, closeness: np.ndarray, images: int) -> None:
        """‖F(x)‖ / ‖x‖ of each block, averaged over ``images``; a block near 0 barely changes its input."""
        known = np.isfinite(closeness)
        self.closeness.setData(np.arange(len(closeness))[known], closeness[known])
        self.near.setTitle(f"How close each block is to the identity: ‖F(x)‖ / ‖x‖, mean over {images} image"
                           + ("s" if images != 1 else ""), size="9pt")

    def responses_caption(self) -> str:
        """What this model's curve shows, then the paper's finding and why a run may differ from it."""
        name, curve = next(((k, self._curves[k]) for k in ("the loaded images", "this image") if k in self._curves),
                           (None, None))
        if curve is None or len(curve) < 3:
            return ""
        third = max(1, len(curve) // 3)
        early, late = float(curve[:third].mean()), float(curve[-third:].mean())
        trend = ("falls with depth" if late < 0.9 * early else "rises with depth" if late > 1.1 * early
                 else "stays about level with depth")
        images = f"{self._images} loaded image" + ("s" if self._images != 1 else "")
        over = f"mean over {images}" if name == "the loaded images" else "this image"
        return (f"Here ({over}) the std of F(x) {trend}: {_number(early)} in the first third of the blocks, "
                f"{_number(late)} in the last. He et al. (2015, Fig. 7) found residual functions respond less than "
                f"plain layers, and less in deeper networks, for CIFAR-10 models trained to the end; a model "
                f"trained for a few epochs, or on other data, can differ. The Why residual? tab sets a plain "
                f"network beside its residual twin.")
