"""Why residual? The degradation problem on Fashion-MNIST, from the shipped plain and residual models.

Training and test error against epochs as in He et al. (2015), Fig. 6; for the selected image,
the layer responses of Fig. 7 and both models' CAM and predictions side by side.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QScrollArea, QVBoxLayout, QWidget

from resnet_studio.gui.viewmodel.colormap import overlay
from resnet_studio.core.text import shown
from resnet_studio.gui.viewmodel.why_residual import Pair, curves, lesion_curve, summary
from ..messages import Comparison
from ..plain_text import plain_label
from ..qt_images import rgb_to_qimage

PLAIN, RESIDUAL = "#c0392b", "#1f5fbf"
SHADES = ["#e6a19a", "#c0392b", "#7b241c"], ["#9dbbe8", "#1f5fbf", "#0f2f66"]
CAM_SIDE = 150


class ModelCard(QGroupBox):
    """One model's view of the image: its CAM and its top three."""

    def __init__(self, colour: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(f"QGroupBox {{ color: {colour}; font-weight: bold; }}")
        self.picture = plain_label()
        self.picture.setFixedSize(CAM_SIDE, CAM_SIDE)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.predictions = plain_label()
        self.predictions.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout = QHBoxLayout(self)
        layout.addWidget(self.picture)
        layout.addWidget(self.predictions, 1)

    def present(self, title: str, preview: np.ndarray, heat: np.ndarray, lines: list[str]) -> None:
        self.setTitle(shown(title, 80))
        picture = QPixmap.fromImage(rgb_to_qimage(overlay(preview, heat, 0.6)))
        self.picture.setPixmap(picture.scaled(CAM_SIDE, CAM_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))
        self.predictions.setText("\n".join(shown(line, 80) for line in lines))

    def clear(self) -> None:
        self.picture.clear()
        self.predictions.setText("")


class WhyResidualPanel(QWidget):
    requested = Signal()  # the depth changed: compare the image again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pairs: list[Pair] = []
        self.intro = plain_label(
            "He et al. (2015) found that a deeper plain network trains to a higher error than a shallower "
            "one (the degradation problem), and that identity shortcuts fix it. These models were trained "
            "here on Fashion-MNIST with one recipe; their histories are in their files.")
        self.intro.setWordWrap(True)
        self.plain_plot, self.residual_plot = (self._error_plot(title) for title in ("plain", "residual (ResNet)"))
        self.table = plain_label()
        self.table.setObjectName("whyTable")
        self.table.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.table.font()
        font.setStyleHint(font.StyleHint.Monospace)
        font.setFamily("monospace")
        self.table.setFont(font)
        self.depth = QComboBox()
        self.depth.setAccessibleName("Depth")
        self.responses = pg.PlotWidget(background="w")
        self.responses.setFixedHeight(200)
        self.responses.setLabel("bottom", "block (network order)")
        self.responses.setLabel("left", "std of the block's last BN output")
        self.responses.setTitle("Layer responses for this image, as in Fig. 7", size="9pt")
        self.responses.addLegend(offset=(-10, 10))
        self.responses.showGrid(x=True, y=True, alpha=0.25)
        self.plain_responses = self.responses.plot([], [], pen=pg.mkPen(PLAIN, width=2), symbol="o", symbolSize=4,
                                                   symbolBrush=PLAIN, name="plain")
        self.residual_responses = self.responses.plot([], [], pen=pg.mkPen(RESIDUAL, width=2), symbol="o",
                                                      symbolSize=4, symbolBrush=RESIDUAL, name="residual")
        self.lesion = pg.PlotWidget(background="w")
        self.lesion.setFixedHeight(220)
        self.lesion.setMouseEnabled(x=False, y=False)
        self.lesion.setLabel("bottom", "block removed (network order; dotted: downsampling blocks)")
        self.lesion.setLabel("left", "top-1 accuracy (%)")
        self.lesion.showGrid(x=True, y=True, alpha=0.25)
        self.lesion_note = plain_label()
        self.lesion_note.setWordWrap(True)
        # The key under the plot, never over its curves.
        self.lesion_keys = {kind: plain_label() for kind in ("plain", "residual")}
        for kind, label in self.lesion_keys.items():
            label.setStyleSheet(f"color: {PLAIN if kind == 'plain' else RESIDUAL}")
        self.plain_card, self.residual_card = ModelCard(PLAIN), ModelCard(RESIDUAL)
        self.image_note = plain_label("Select an image in the list to compare the two models on it.")
        self.image_note.setWordWrap(True)

        self.residual_plot.setYLink(self.plain_plot)  # one error scale, so the two can be compared by eye
        self.residual_plot.setXLink(self.plain_plot)
        plots = QHBoxLayout()
        plots.addWidget(self.plain_plot)
        plots.addWidget(self.residual_plot)
        image_box = QGroupBox("This image through both")
        image_layout = QGridLayout(image_box)
        image_layout.addWidget(plain_label("Depth"), 0, 0)
        image_layout.addWidget(self.depth, 0, 1)
        image_layout.addWidget(self.image_note, 0, 2)
        image_layout.addWidget(self.plain_card, 1, 0, 1, 2)
        image_layout.addWidget(self.residual_card, 1, 2)
        image_layout.addWidget(self.responses, 2, 0, 1, 3)
        image_layout.setColumnStretch(2, 1)
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addWidget(self.intro)
        layout.addLayout(plots)
        layout.addWidget(self.table)
        layout.addWidget(self.lesion)
        keys = QHBoxLayout()
        for label in self.lesion_keys.values():
            keys.addWidget(label)
        keys.addStretch(1)
        layout.addLayout(keys)
        layout.addWidget(self.lesion_note)
        layout.addWidget(image_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.depth.currentIndexChanged.connect(lambda _: self.requested.emit())
        self.depth.currentIndexChanged.connect(lambda _: self._draw_lesion())

    def _error_plot(self, title: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w")
        plot.setFixedHeight(230)
        plot.setTitle(f"{title}: error (%) against epoch", size="9pt")
        plot.setLabel("bottom", "epoch")
        plot.setLabel("left", "error (%)")
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.addLegend(offset=(-10, 10))
        return plot

    def set_pairs(self, pairs: list[Pair]) -> None:
        self.pairs = pairs
        for plot in (self.plain_plot, self.residual_plot):
            plot.clear()
        self.depth.blockSignals(True)
        self.depth.clear()
        for pair in pairs:
            self.depth.addItem(f"{pair.depth} layers", pair.depth)
        self.depth.setCurrentIndex(len(pairs) - 1)  # the deepest pair shows the most
        self.depth.blockSignals(False)
        self._draw_lesion()
        if not pairs:
            self.table.setText("No plain/residual pair with training histories in the models folders.")
            return
        rows = ["model      train error   test error   wall time"]
        for shade, pair in enumerate(pairs):
            for plot, info, colours in ((self.plain_plot, pair.plain, SHADES[0]),
                                        (self.residual_plot, pair.residual, SHADES[1])):
                c = curves(info)
                colour = colours[min(shade + (len(colours) - len(pairs)), len(colours) - 1)]
                name = info.variant or info.name
                plot.plot(c.epochs, 100 * c.train_error, pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine),
                          name=f"{name} train")
                test = ~np.isnan(c.test_error)
                plot.plot(c.epochs[test], 100 * c.test_error[test], pen=pg.mkPen(colour, width=2.5),
                          name=f"{name} test")
            for name, train, test, seconds in summary(pair):
                wall = f"{seconds / 60:.0f} min" if seconds is not None else "?"
                rows.append(f"{name:<10} {100 * train:>10.2f}%  {100 * test:>10.2f}%   {wall:>8}")
        self.table.setText("\n".join(rows))

    def _draw_lesion(self) -> None:
        """Veit et al. (2016), Fig. 3, for the chosen depth: accuracy with each single block removed, plain and
        residual on one axis, from the curves measured on these very files."""
        self.lesion.clear()
        pair = self.current_pair()
        found = [(kind, lesion_curve(info, info.path.parent)) for kind, info in
                 (("plain", pair.plain), ("residual", pair.residual))] if pair else []
        found = [(kind, curve) for kind, curve in found if curve is not None]
        for kind, label in self.lesion_keys.items():
            label.setText(next((f"━━●━━ {kind}, intact {c.intact:.1%} (dotted)" for k, c in found if k == kind), ""))
        self.lesion.setTitle(f"Accuracy with one block removed (Veit et al. 2016, Fig. 3), {pair.depth if pair else ''}"
                             f" layers", size="9pt")
        if not found:
            self.lesion_note.setText("No lesion curve was measured on these files: run 'resnet-studio lesion MODEL' "
                                     "to measure one.")
            return
        for kind, curve in found:
            colour = PLAIN if kind == "plain" else RESIDUAL
            # A block that cannot go (a plain downsampling block) leaves a gap, not a line across it.
            self.lesion.plot(np.arange(len(curve.blocks)), 100 * curve.accuracy, connect="finite",
                             pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=5, symbolBrush=colour)
            self.lesion.addItem(pg.InfiniteLine(100 * curve.intact, angle=0,
                                                pen=pg.mkPen(colour, style=Qt.PenStyle.DotLine)))
        blocks, kinds = found[-1][1].blocks, found[-1][1].kinds
        for i, kind in enumerate(kinds):
            if kind == "projection":
                self.lesion.addItem(pg.InfiniteLine(i, angle=90, pen=pg.mkPen("#9a9a9a", style=Qt.PenStyle.DotLine)))
        self.lesion.getAxis("bottom").setTicks([[(i, b) for i, b in enumerate(blocks) if b.endswith(".0")], []])
        self.lesion_note.setText(
            "A residual network keeps working without most single blocks; a plain one falls to chance (10%) "
            "whichever goes. Removing means dropping F(x): the block passes on what it does to its shortcut. "
            "Measured on the first 1,000 Fashion-MNIST test images ('resnet-studio lesion MODEL --json').")

    def current_pair(self) -> Pair | None:
        depth = self.depth.currentData()
        return next((p for p in self.pairs if p.depth == depth), None)

    def clear_image(self, text: str) -> None:
        self.image_note.setText(text)
        for card in (self.plain_card, self.residual_card):
            card.clear()
        self.plain_responses.setData([], [])
        self.residual_responses.setData([], [])

    def show_image(self, comparison: Comparison) -> None:
        self.image_note.setText(shown(comparison.name, 120))
        for card, side, curve in ((self.plain_card, comparison.plain, self.plain_responses),
                                  (self.residual_card, comparison.residual, self.residual_responses)):
            card.present(side.title, comparison.preview, side.heat, side.lines)
            curve.setData(np.arange(len(side.responses)), side.responses)
