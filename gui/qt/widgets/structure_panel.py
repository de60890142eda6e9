"""The Structure tab: the graph view, its toolbar (compare, expand, zoom, save) and the clicked node's figures."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QPushButton, QSplitter, QToolButton, QVBoxLayout,
                               QWidget)

from resnet_studio.core.text import shown
from ..file_dialogs import FileDialogs, file_stem
from ..plain_text import plain_label
from .structure import NodeItem, StructureView

HINT = "Click a node to see its kernel, stride, groups, channels, params, MACs and output shape."


class StructurePanel(QWidget):
    compare_requested = Signal(str)  # a catalog model name, or "" for none
    block_requested = Signal(str)  # a block's name (layer2.0): show its activations
    notice = Signal(str)

    def __init__(self, dialogs: FileDialogs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dialogs = dialogs
        self.view = StructureView()
        self.compare = QComboBox()
        self.compare.setAccessibleName("Compare with")
        self.compare.setMinimumContentsLength(14)
        self.expand = QToolButton()
        self.expand.setText("Expand all")
        self.expand.setCheckable(True)
        self.expand.setToolTip("Show every block instead of one node per run of identical blocks")
        buttons = [self.expand]
        for text, tip, slot in (("−", "Zoom out (Ctrl+wheel)", lambda: self.view.zoom(1 / 1.25)),
                                ("+", "Zoom in (Ctrl+wheel)", lambda: self.view.zoom(1.25)),
                                ("Fit", "Fit the whole diagram, or as much as legible text allows", self.view.fit),
                                ("Save…", "Save the diagram as PNG or SVG", self._ask_and_save)):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.append(button)
        bar = QHBoxLayout()
        bar.addWidget(plain_label("Compare with"))
        bar.addWidget(self.compare)
        bar.addStretch(1)
        for button in buttons:
            bar.addWidget(button)
        self.details = plain_label(HINT)
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.show_activations = QPushButton("Show this block's activations")
        self.show_activations.hide()
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.details)
        side_layout.addWidget(self.show_activations)
        side_layout.addStretch(1)
        split = QSplitter()
        split.addWidget(self.view)
        split.addWidget(side)
        split.setStretchFactor(0, 4)
        split.setSizes([700, 200])
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        self._block: str | None = None
        self.compare.currentIndexChanged.connect(lambda _: self.compare_requested.emit(self.compare.currentData() or ""))
        self.expand.toggled.connect(self.view.expand_all)
        self.view.node_clicked.connect(self._node_clicked)
        self.view.block_clicked.connect(self.block_requested.emit)
        self.show_activations.clicked.connect(lambda: self._block and self.view.block_clicked.emit(self._block))

    def show_models(self, primary: tuple[str, dict] | None, other: tuple[str, dict] | None = None) -> None:
        self.view.show_models(primary, other)

    def highlight(self, block: str) -> None:
        """Mark ``block`` (an activation output name or a block name) in the diagram."""
        self.view.highlight(block)

    def _node_clicked(self, text: str) -> None:
        self.details.setText(text or HINT)
        selected = [i for i in self.view.scene().selectedItems() if isinstance(i, NodeItem)]
        self._block = selected[0].node.block if selected and selected[0].node.kind != "run" else None
        self.show_activations.setVisible(self._block is not None and selected[0] in self.view.items.values())
        if self._block:
            self.show_activations.setText(f"Show {shown(self._block, 40)}'s activations")

    def _ask_and_save(self) -> None:
        path, chosen = self.dialogs.save_path("Save diagram", file_stem("structure", "-vs-".join(self.view.names))
                                              + ".svg",
                                              "SVG drawing (*.svg);;PNG image (*.png)")
        if not path:
            return
        if not path.lower().endswith((".svg", ".png")):
            path += ".png" if "png" in chosen.lower() else ".svg"
        try:
            self.view.save(path)
        except OSError as exc:
            self.notice.emit(str(exc))

    def set_choices(self, names: list[str]) -> None:
        self.compare.blockSignals(True)
        current = self.compare.currentData()
        self.compare.clear()
        self.compare.addItem("nothing", "")
        for name in names:
            self.compare.addItem(shown(name), name)
        index = self.compare.findData(current)
        self.compare.setCurrentIndex(max(0, index))
        self.compare.blockSignals(False)
