"""The residual block structure drawn from a file's ``architecture`` metadata: stem -> stages -> blocks."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QIODevice, QPointF, QRectF, QSaveFile, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGraphicsItem, QGraphicsPathItem, QGraphicsRectItem, QGraphicsScene,
                               QGraphicsSimpleTextItem, QGraphicsView, QHBoxLayout, QToolButton, QVBoxLayout,
                               QWidget)

from ..core.text import shown
from ..plain_text import plain_label, tooltip
from ..qt_images import save_image

BLOCK_W, SHORTCUT_W, LINE_H, GAP, COLUMN_GAP, PAIR_GAP = 360, 78, 17, 14, 48, 12
DIFF = QColor("#d9730d")  # lines that differ from the model compared with
PROJECTION = QColor("#2f6fb3")


def human(n: float, unit: str = "") -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}" + (f" {unit}" if unit else "")
    return f"{n:.0f}" + (f" {unit}" if unit else "")


def shape_text(shape: list[int]) -> str:
    return "×".join(str(s) for s in shape)


def layer_text(layer: dict[str, Any]) -> str:
    kind = layer["kind"]
    if kind == "conv":
        groups = f", {layer['groups']} groups" if layer["groups"] > 1 else ""
        stride = f", /{layer['stride']}" if layer["stride"] > 1 else ""
        return f"{layer['kernel']}×{layer['kernel']} conv, {layer['out_channels']}{groups}{stride}"
    return {"norm": layer.get("norm", "BN").replace("BatchNorm2d", "BN"), "relu": "ReLU", "add": "⊕ add",
            "maxpool": f"{layer['kernel']}×{layer['kernel']} max-pool, /{layer['stride']}"}.get(kind, kind)


def block_lines(block: dict[str, Any]) -> list[str]:
    """The main path, one line per conv with its BN and ReLU folded in."""
    lines: list[str] = []
    for layer in block["layers"]:
        if layer["kind"] in ("conv", "add"):
            lines.append(layer_text(layer))
        elif lines:
            lines[-1] += f" · {layer_text(layer)}"
    return lines


class BlockItem(QGraphicsRectItem):
    def __init__(self, name: str, height: float, selectable: bool) -> None:
        super().__init__(0, 0, BLOCK_W, height)
        self.name = name
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, selectable)
        self.setAcceptHoverEvents(selectable)
        if selectable:
            self.setCursor(Qt.CursorShape.PointingHandCursor)
            self.setToolTip(tooltip(f"{name}: click to show its activations"))

    def paint(self, painter, option, widget=None) -> None:
        palette = widget.palette() if widget else QPalette()
        selected = self.isSelected()
        pen = QPen(palette.color(QPalette.ColorRole.Highlight) if selected else palette.color(QPalette.ColorRole.Mid),
                   3 if selected else 1)
        painter.setPen(pen)
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(self.rect(), 8, 8)


class Diagram:
    """Lays one model's architecture into a scene at an x offset; returns its block items by name."""

    def __init__(self, scene: QGraphicsScene, palette: QPalette) -> None:
        self.scene, self.palette = scene, palette
        self.text = palette.color(QPalette.ColorRole.WindowText)
        self.muted = palette.color(QPalette.ColorRole.PlaceholderText)

    def label(self, text: str, x: float, y: float, bold: bool = False, color: QColor | None = None,
              size: float = 0) -> QGraphicsSimpleTextItem:
        item = self.scene.addSimpleText(shown(text, 120))  # names come from the file's metadata
        font = QFont(item.font())
        font.setBold(bold)
        if size:
            font.setPointSizeF(size)
        item.setFont(font)
        item.setBrush(QBrush(color or self.text))
        item.setPos(x, y)
        return item

    def arrow(self, start: QPointF, end: QPointF, color: QColor, dashed: bool = False) -> None:
        path = QPainterPath(start)
        path.lineTo(end)
        direction = 1 if end.y() >= start.y() else -1
        path.moveTo(end)
        path.lineTo(end + QPointF(-4, -6 * direction))
        path.moveTo(end)
        path.lineTo(end + QPointF(4, -6 * direction))
        item = QGraphicsPathItem(path)
        pen = QPen(color, 1.5)
        if dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        item.setPen(pen)
        self.scene.addItem(item)

    def draw(self, arch: dict[str, Any], title: str, x0: float, selectable: bool,
             reference: dict[str, Any] | None = None, stage_stride: float = BLOCK_W + COLUMN_GAP
             ) -> dict[str, BlockItem]:
        """Stages as columns ``stage_stride`` apart; a compared model is drawn interleaved, block beside block."""
        items: dict[str, BlockItem] = {}
        self.label(title, x0, 0, bold=True, size=13)
        self.label(f"{human(arch['params'])} params · {human(arch['macs'], 'MACs')} at "
                   f"{shape_text(arch['input_shape'])}", x0, 24, color=self.muted)
        if reference is not None:
            self.label("orange: differs from the model beside it", x0, 40, color=DIFF)
        stem = arch["stem"]
        stem_lines = [layer_text(l) for l in stem["layers"] if l["kind"] in ("conv", "maxpool")]
        y = 64
        box = self.scene.addRect(QRectF(x0, y, BLOCK_W, 30 + LINE_H * len(stem_lines)), QPen(self.muted),
                                 QBrush(self.palette.color(QPalette.ColorRole.AlternateBase)))
        box.setZValue(-1)
        self.label(f"stem → {shape_text(stem['output_shape'])}", x0 + 10, y + 6, bold=True)
        for i, line in enumerate(stem_lines):
            self.label(line, x0 + 10, y + 24 + i * LINE_H)
        top = y + 40 + LINE_H * len(stem_lines) + GAP
        ref_blocks = {b["name"]: b for s in (reference or {}).get("stages", []) for b in s["blocks"]}
        for column, stage in enumerate(arch["stages"]):
            x = x0 + column * stage_stride
            self.label(f"{stage['name']} · {len(stage['blocks'])} blocks", x, top, bold=True)
            self.label(f"→ {shape_text(stage['output_shape'])} · {human(stage['params'])} params · "
                       f"{human(stage['macs'], 'MACs')}", x, top + LINE_H, color=self.muted)
            y = top + 2 * LINE_H + 10
            for block in stage["blocks"]:
                item, height = self.block(block, x, y, selectable, ref_blocks.get(block["name"]))
                items[block["name"]] = item
                y += height + GAP
        return items

    def block(self, block: dict[str, Any], x: float, y: float, selectable: bool,
              reference: dict[str, Any] | None) -> tuple[BlockItem, float]:
        lines = block_lines(block)
        ref_lines = block_lines(reference) if reference else None
        shortcut = block["shortcut"]
        height = 28 + LINE_H * (len(lines) + 1) + 12
        item = BlockItem(block["name"], height, selectable)
        item.setPos(x, y)
        self.scene.addItem(item)
        kind = block["type"].replace("BasicBlock", "basic").replace("Bottleneck", "bottleneck")
        self.label(f"{block['name']} · {kind} · {block['in_channels']}→{block['out_channels']}",
                   x + 10, y + 6, bold=True)
        for i, line in enumerate(lines):
            differs = ref_lines is not None and (i >= len(ref_lines) or ref_lines[i] != line)
            self.label(line, x + 10, y + 26 + i * LINE_H, bold=differs, color=DIFF if differs else None)
        footer = f"out {shape_text(block['output_shape'])} · {human(block['params'])} · {human(block['macs'], 'MACs')}"
        self.label(footer, x + 10, y + 26 + len(lines) * LINE_H + 2, color=self.muted)
        if shortcut["type"] == "none":  # a plain network's block: nothing to draw beside it
            return item, height
        # The shortcut: a line down the right side into the addition.
        sx = x + BLOCK_W - SHORTCUT_W + 10
        top, bottom = QPointF(sx, y + 24), QPointF(sx, y + 26 + (len(lines) - 1) * LINE_H + 6)
        projection = shortcut["type"] == "projection"
        self.arrow(top, bottom, PROJECTION if projection else self.muted, dashed=not projection)
        text = f"1×1 proj\n/{shortcut['stride']}" if projection else "identity"
        note = self.label(text, sx + 6, y + 34, color=PROJECTION if projection else self.muted)
        note.setFont(QFont(note.font().family(), max(7, int(note.font().pointSizeF() * 0.85))))
        return item, height


class StructureView(QGraphicsView):
    block_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.blocks: dict[str, BlockItem] = {}
        self.stage_counts: list[int] = []
        self.scene().selectionChanged.connect(self._selection)

    def show_models(self, primary: tuple[str, dict] | None, other: tuple[str, dict] | None = None) -> None:
        self.scene().clear()
        self.blocks = {}
        self.stage_counts = []
        if primary is None:
            self.scene().addSimpleText("This model file carries no architecture metadata.")
            return
        diagram = Diagram(self.scene(), self.palette())
        title, arch = primary
        stride = 2 * BLOCK_W + PAIR_GAP + COLUMN_GAP if other else BLOCK_W + COLUMN_GAP
        self.blocks = diagram.draw(arch, title, 0, True, other[1] if other else None, stride)
        self.stage_counts = [len(s["blocks"]) for s in arch["stages"]]
        if other:
            diagram.draw(other[1], other[0], BLOCK_W + PAIR_GAP, False, arch, stride)
        self.setSceneRect(self.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20))

    def highlight(self, name: str) -> None:
        item = self.blocks.get(name)
        if item and not item.isSelected():
            self.scene().clearSelection()
            item.setSelected(True)
            self.ensureVisible(item)

    def _selection(self) -> None:
        selected = [i for i in self.scene().selectedItems() if isinstance(i, BlockItem)]
        if selected:
            self.block_clicked.emit(selected[0].name)

    def zoom(self, factor: float) -> None:
        scale = self.transform().m11() * factor
        if 0.05 <= scale <= 8:
            self.scale(factor, factor)

    def fit(self) -> None:
        self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def save(self, path: str) -> None:
        """The whole diagram as PNG (at twice the screen scale) or SVG, by the suffix; OSError on failure."""
        area = self.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20)
        if path.lower().endswith(".svg"):
            target = QSaveFile(path)
            if not target.open(QIODevice.OpenModeFlag.WriteOnly):
                raise OSError(f"{path}: cannot write ({target.errorString()})")
            generator = QSvgGenerator()
            generator.setOutputDevice(target)
            generator.setSize(area.size().toSize())
            generator.setViewBox(QRectF(0, 0, area.width(), area.height()))
            generator.setTitle("ResNet Studio structure diagram")
            painter = QPainter(generator)
            self.scene().render(painter, QRectF(0, 0, area.width(), area.height()), area)
            painter.end()
            if not target.commit():
                raise OSError(f"{path}: cannot write ({target.errorString()})")
            return
        image = QImage((area.size() * 2).toSize(), QImage.Format.Format_ARGB32)
        image.fill(self.palette().color(QPalette.ColorRole.Base))
        painter = QPainter(image)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.scene().render(painter, QRectF(image.rect()), area)
        painter.end()
        save_image(image, path)

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)
        else:
            super().wheelEvent(event)


class StructurePanel(QWidget):
    compare_requested = Signal(str)  # a catalog model name, or "" for none
    notice = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = StructureView()
        self.compare = QComboBox()
        self.compare.setAccessibleName("Compare with")
        self.compare.setMinimumContentsLength(14)
        buttons = []
        for text, tip, slot in (("−", "Zoom out (Ctrl+wheel)", lambda: self.view.zoom(1 / 1.25)),
                                ("+", "Zoom in (Ctrl+wheel)", lambda: self.view.zoom(1.25)),
                                ("Fit", "Fit the whole diagram", self.view.fit),
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
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        self.compare.currentIndexChanged.connect(lambda _: self.compare_requested.emit(self.compare.currentData() or ""))

    def _ask_and_save(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Save diagram", "structure.svg",
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
