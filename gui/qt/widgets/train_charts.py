"""The Train panel's charts (pyqtgraph): loss and accuracy as training goes, and the layer responses,
each block's std of F(x) on a fixed held-out batch, one curve per epoch."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from resnet_studio.gui.viewmodel.train_progress import Progress

from .block_adds import StillPlot

TRAIN_COLOUR, VALIDATION_COLOUR = "#7a7a7a", "#1f77b4"


def _epoch_colour(i: int, n: int) -> QColor:
    """Light for the first epoch, dark for the last: the curves read as a sequence."""
    share = i / max(1, n - 1)
    return QColor.fromHsvF(0.6, 0.25 + 0.7 * share, 0.95 - 0.55 * share)


class OneTwoFiveLogAxis(pg.AxisItem):
    """A log axis with ticks at 1, 2 and 5 of each decade: pyqtgraph's own labels every one of 2 to 9,
    which overlap on a plot a third of the panel high. No SI prefix: it would label 0.05 as "50 (x0.001)"."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self.enableAutoSIPrefix(False)

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        kept = []
        for spacing, values in super().logTickValues(minVal, maxVal, size, stdTicks):
            mantissas = [10 ** (v - math.floor(v + 1e-9)) for v in values]
            kept.append((spacing, [v for v, m in zip(values, mantissas) if min(abs(m - k) for k in (1, 2, 5)) < 1e-6]))
        return kept


class TrainCharts(QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.loss = StillPlot()
        self.loss.setTitle("Training loss")
        self.loss.setLabel("bottom", "epoch")
        self.loss_curve = self.loss.plot([], [], pen=pg.mkPen(TRAIN_COLOUR, width=2))
        self.accuracy = StillPlot()
        # The key is in the title: a legend inside the plot sat on the curves wherever it was put.
        self.accuracy.setTitle(f'Accuracy: <span style="color:{VALIDATION_COLOUR}">●— held out</span>'
                               f' · <span style="color:{TRAIN_COLOUR}">- - training</span>')
        self.accuracy.setLabel("bottom", "epoch")
        self.accuracy.setYRange(0, 1.02)
        self.train_acc = self.accuracy.plot([], [], pen=pg.mkPen(TRAIN_COLOUR, width=1.5, style=Qt.PenStyle.DashLine))
        self.val_acc = self.accuracy.plot([], [], pen=pg.mkPen(VALIDATION_COLOUR, width=2.5), symbol="o",
                                          symbolSize=6, symbolBrush=VALIDATION_COLOUR)
        self.responses = StillPlot(axisItems={"left": OneTwoFiveLogAxis("left")})
        self.responses.setTitle("std of F(x) per block, a curve an epoch: light first, dark last")
        self.responses.setLabel("bottom", "block (input → output)")
        self.responses.setLabel("left", "std of F(x)")
        self.responses.setLogMode(y=True)  # responses of a fresh network span orders of magnitude
        for plot in (self.loss, self.accuracy, self.responses):
            layout.addWidget(plot, 1)
            self._fit(plot, False)

    def _fit(self, plot: StillPlot, has_data: bool) -> None:
        """Fit the axes to the data (accuracy keeps 0 to 1); with none, whole-number ranges: an empty plot's
        own 0 to 1 reads as tenths of an epoch, and on the log axis crowds the labels 2 to 9 into one spot."""
        if has_data:
            plot.enableAutoRange(x=True, y=plot is not self.accuracy)
            return
        plot.setXRange(0, 10, padding=0.02)
        if plot is self.responses:
            plot.setYRange(-1, 1, padding=0)  # log10: 0.1 to 10
        elif plot is self.loss:
            plot.setYRange(0, 1, padding=0.02)

    def show_progress(self, progress: Progress) -> None:
        if progress.steps:
            x, loss, acc = zip(*progress.steps)
            self.loss_curve.setData(list(x), list(loss))
            self.train_acc.setData(list(x), list(acc))
        else:
            self.loss_curve.setData([], [])
            self.train_acc.setData([], [])
        for plot in (self.loss, self.accuracy):
            self._fit(plot, bool(progress.steps))
        validated = [(r["epoch"], r["val_acc"]) for r in progress.rows if r["val_acc"] is not None]
        self.val_acc.setData([e for e, _ in validated], [a for _, a in validated])
        self._show_responses(progress.responses())

    def _show_responses(self, by_epoch: list[list[float]]) -> None:
        self.responses.clear()
        self._fit(self.responses, bool(by_epoch))
        for i, row in enumerate(by_epoch):
            self.responses.plot(list(range(1, len(row) + 1)), row, pen=pg.mkPen(_epoch_colour(i, len(by_epoch)), width=2))
