"""The residual block structure as a data-flow graph, drawn from ``core.block_graph``.

Columns are the stem, each stage and the head. Weight layers sit on the main path; the skip
path leaves each block's input, runs down its right side (through a 1×1 projection where the
shape changes) and joins the main path at ⊕. Column titles and model names stay pinned to the
top of the view while it scrolls. Two models compared sit side by side, each in its own half with
the same bands, so no wire crosses from one to the other. Expanding a stage keeps the bands as they
were: only what lies below the stage moves.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontInfo, QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (QGraphicsPathItem, QGraphicsScene,
                               QGraphicsView, QWidget)

from resnet_studio.core.architecture import Architecture
from resnet_studio.gui.viewmodel import block_graph
from resnet_studio.gui.viewmodel.block_graph import Graph, Node
from resnet_studio.core.text import shown
from ..qt_images import save_scene
from .structure_items import (BAND_GAP, HEADER_H, LANE_GAP, LEGIBLE_PX, NODE_H, NODE_W, PROJ_W, PROJECTION,
                              ROW_H, SIDE_GAP, TITLE_H, NodeItem, StageToggle, arrow_head, side_colour)

class StructureView(QGraphicsView):
    block_clicked = Signal(str)  # a block's name (layer2.0): show its activations
    node_clicked = Signal(str)  # what the node is, in words

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)  # pinned headers
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.graphs: list[Graph] = []
        self.items: dict[str, NodeItem] = {}  # the primary model's nodes by id
        self.expanded: set[str] = set()
        self.toggles: dict[tuple[int, str], StageToggle] = {}  # (side, stage) → its expand/collapse link
        self.build_ms = 0.0
        self.per_row = 0  # columns per band: chosen for a model, kept while its stages expand
        self.node_w, self.proj_w = NODE_W, PROJ_W
        self._models: tuple[Any, Any] = (None, None)
        self._key: object = None
        self.scene().selectionChanged.connect(self._selection)

    @property
    def names(self) -> list[str]:
        """The names of the models drawn, the primary first."""
        return [model[0] for model in self._models if model]

    @property
    def stage_counts(self) -> list[int]:
        arch = self._models[0][1] if self._models[0] else None
        return [len(s.blocks) for s in arch.stages] if arch else []

    def show_models(self, primary: tuple[str, Architecture] | None,
                    other: tuple[str, Architecture] | None = None) -> None:
        """Draw one model, or two aligned by role; a new primary model resets expansion and view."""
        key = (primary[0], id(primary[1])) if primary else None
        new_model = key != self._key
        self._key = key
        if new_model:
            self.expanded = set()
        self._models = (primary, other)
        self._measure()
        self._draw(rewrap=True)
        if new_model:
            self.reset_view()

    def toggle_stage(self, stage: str) -> None:
        """Expand or collapse one stage in place: the bands stay, so what was clicked stays where it was."""
        self.expanded ^= {stage}
        corner = self.mapToScene(0, 0)  # the scene point at the view's top left stays there
        self._draw(rewrap=False)
        scale = self.transform().m11()
        self.horizontalScrollBar().setValue(round(corner.x() * scale))
        self.verticalScrollBar().setValue(round(corner.y() * scale))

    def expand_all(self, on: bool) -> None:
        arch = self._models[0][1] if self._models[0] else None
        self.expanded = {s.name for s in arch.stages} if arch and on else set()
        self._draw(rewrap=True)

    def _measure(self) -> None:
        """Node widths that fit the longest label of either model with every stage expanded, so that no label
        is cut and expanding changes no width."""
        font = QFont(self.font())
        font.setBold(True)  # differing nodes are drawn bold
        metrics = QFontMetrics(font)
        widths = {0: [NODE_W], 1: [PROJ_W]}
        for name, arch in filter(None, self._models):
            for node in block_graph.build(arch, name, {s.name for s in arch.stages}).nodes.values():
                widths[min(node.lane, 1)].append(metrics.horizontalAdvance(shown(node.label, 120)) + 18)
        self.node_w, self.proj_w = max(widths[0]), max(widths[1])

    def legible_scale(self) -> float:
        """The smallest zoom at which the diagram's text is still LEGIBLE_PX high on screen."""
        return LEGIBLE_PX / max(1, QFontInfo(self.font()).pixelSize())

    def _draw(self, rewrap: bool) -> None:
        started = time.perf_counter()
        scene = self.scene()
        scene.clear()
        self.node_clicked.emit("")  # nothing is selected in a new drawing
        self.items = {}
        primary, other = self._models
        if primary is None:
            self.graphs = []
            scene.addSimpleText("No residual structure: the file carries no architecture and none was found in "
                                "its graph.")
            return
        graphs = [block_graph.build(primary[1], primary[0], self.expanded)]
        differs: tuple[set[str], set[str]] = (set(), set())
        if other is not None:
            graphs.append(block_graph.build(other[1], other[0], self.expanded))
            differs = block_graph.align(graphs[0], graphs[1])
        self.graphs = graphs
        self._lay_out_columns(rewrap or not self.per_row)
        self.toggles = {}
        for side, graph in enumerate(graphs):
            items = {node.id: self._node(node, side, node.id in differs[side]) for node in graph.nodes.values()}
            self._titles(graph, side)
            self._toggles(graph, side, (primary, other)[side][1])
            self._frames(graph, side)
            self._edges(graph, items, side)
            if side == 0:
                self.items = items
        if len(graphs) > 1:  # the line between the two models
            x = self.side_span + SIDE_GAP / 2
            self.scene().addLine(x, 0, x, self.scene().itemsBoundingRect().bottom(), QPen(QColor("#d0d0d0"), 1))
        self.setSceneRect(scene.itemsBoundingRect().adjusted(-20, -HEADER_H, 40, 40))
        self.build_ms = (time.perf_counter() - started) * 1000

    def _lay_out_columns(self, rewrap: bool) -> None:
        """Stem, stages and head side by side, wrapped into bands so the whole fits the view's shape; with
        ``rewrap`` false the columns per band stay as they were."""
        graphs = self.graphs
        count = len(graphs[0].columns)
        nodes = [n for g in graphs for n in g.nodes.values()]
        self.side_w = [self.node_w + 30 + (LANE_GAP + self.proj_w if any(n.lane and n.column == c for n in nodes)
                                           else 30) for c in range(count)]
        widths = self.side_w
        heights = [TITLE_H + (max((n.row for n in nodes if n.column == c), default=0) + 1) * ROW_H
                   for c in range(count)]
        view_w, view_h = max(400, self.viewport().width()), max(300, self.viewport().height() - HEADER_H)
        sides = len(graphs)

        def shape(per_row: int) -> tuple[float, float]:
            bands = [range(i, min(i + per_row, count)) for i in range(0, count, per_row)]
            span = max(sum(widths[c] for c in band) for band in bands)
            return (span * sides + SIDE_GAP * (sides - 1),
                    sum(max(heights[c] for c in band) for band in bands) + BAND_GAP * (len(bands) - 1))

        if rewrap or self.per_row > count:
            self.per_row = max(range(1, count + 1),
                               key=lambda k: (min(view_w / shape(k)[0], view_h / shape(k)[1]), k))
        per_row = self.per_row
        self.side_span = max(sum(widths[i:i + per_row]) for i in range(0, count, per_row))
        self.origins: list[tuple[float, float]] = []
        self.bands: list[tuple[float, float]] = []  # each column's band: top and bottom
        x = y = band_h = 0.0
        for c in range(count):
            if c and c % per_row == 0:
                y += band_h + BAND_GAP
                x = band_h = 0.0
            self.origins.append((x, y))
            x += widths[c]
            band_h = max(band_h, *(heights[k] for k in range(c - c % per_row, min(c - c % per_row + per_row, count))))
        self.bands = [(oy, oy + max(heights[k] for k in range(count) if self.origins[k][1] == oy))
                      for _, oy in self.origins]

    def _x(self, column: int, side: int) -> float:
        return self.origins[column][0] + side * (self.side_span + SIDE_GAP)

    def _node(self, node: Node, side: int, differs: bool) -> NodeItem:
        x = self._x(node.column, side) + (self.node_w + LANE_GAP if node.lane else 0)
        y = self.origins[node.column][1] + TITLE_H + node.row * ROW_H
        item = NodeItem(node, QRectF(x, y, self.proj_w if node.lane else self.node_w, NODE_H), differs)
        self.scene().addItem(item)
        return item

    def _titles(self, graph: Graph, side: int) -> None:
        """Each column's stage and shape, elided to the column; the model's name once per band, over its
        first column, with the band's whole width to itself."""
        for column, title in enumerate(graph.columns):
            x, y = self._x(column, side), self.origins[column][1]
            named = self.origins[column][0] == 0
            for line, (text, bold) in enumerate(((graph.title if named else "", True),
                                                 (title or "(no such stage)", False))):
                font = QFont(self.font())
                font.setBold(bold)
                room = self.side_span - 12 if bold else self.side_w[column] - 12
                item = self.scene().addSimpleText(QFontMetrics(font).elidedText(shown(text, 80),
                                                                                 Qt.TextElideMode.ElideRight, room))
                item.setFont(font)
                item.setBrush(QBrush(side_colour(side, len(self.graphs)) if bold else QColor("#505050")))
                item.setPos(x, y + line * 18)

    def _toggles(self, graph: Graph, side: int, arch: Architecture) -> None:
        """Under the title of each stage with runs of identical blocks: a link to show them all, or to fold
        them back once shown."""
        for s, stage in enumerate(arch.stages):
            if not any(len(group) > 1 for group in block_graph.items(stage, False)):
                continue
            text = "▴ fold identical blocks" if stage.name in self.expanded else f"▾ all {len(stage.blocks)} blocks"
            link = StageToggle(text, stage.name, self)
            self.scene().addItem(link)
            link.setPos(self._x(s + 1, side), self.origins[s + 1][1] + 36)
            self.toggles[(side, stage.name)] = link

    def _frames(self, graph: Graph, side: int) -> None:
        """A light frame around each expanded block, titled with its name."""
        blocks: dict[str, list[Node]] = {}
        for node in graph.nodes.values():
            if node.block and node.kind != "run":
                blocks.setdefault(node.block, []).append(node)
        for name, nodes in blocks.items():
            column = nodes[0].column
            base = self.origins[column][1] + TITLE_H
            top = base + min(n.row for n in nodes) * ROW_H - 20
            bottom = base + max(n.row for n in nodes) * ROW_H + NODE_H + 6
            x = self._x(column, side) - 10
            frame = self.scene().addRect(QRectF(x, top, self.side_w[column] - 16, bottom - top),
                                         QPen(QColor("#c9c9c9"), 1, Qt.PenStyle.DotLine))
            frame.setZValue(-2)
            title = self.scene().addSimpleText(shown(name, 60))
            font = QFont(title.font())
            font.setPointSizeF(font.pointSizeF() * 0.85)
            title.setFont(font)
            title.setBrush(QBrush(QColor("#6a6a6a")))
            title.setPos(x + 4, top + 1)

    def _edges(self, graph: Graph, items: dict[str, NodeItem], side: int) -> None:
        firsts: dict[str, QRectF] = {}  # each block's first main-path node: its input enters just above it
        for item in sorted(items.values(), key=lambda i: i.node.row):
            if item.node.block and item.node.lane == 0 and item.node.kind != "run":
                firsts.setdefault(item.node.block, item.rect())
        for edge in graph.edges:
            source_item, target_item = items[edge.source], items[edge.target]
            source, target = source_item.rect(), target_item.rect()
            path = QPainterPath()
            skip = edge.kind == block_graph.SKIP
            block = target_item.node.block
            junction = QPointF(firsts[block].center().x(), firsts[block].top() - 5) if block in firsts else None
            if skip and source_item.node.kind == "projection":  # out of the projection, into ⊕ from the right
                path.moveTo(source.center().x(), source.bottom())
                path.lineTo(source.center().x(), target.center().y())
                end = QPointF(target.right(), target.center().y())
                path.lineTo(end)
                arrow_head(path, end, QPointF(-1, 0))
            elif skip:  # from the block's input, around the weight layers
                lane_x = target.center().x() if target_item.node.kind == "projection" else target.right() + 16
                path.moveTo(junction)
                path.lineTo(lane_x, junction.y())
                if target_item.node.kind == "projection":
                    end = QPointF(lane_x, target.top())
                    path.lineTo(end)
                    arrow_head(path, end, QPointF(0, 1))
                else:
                    path.lineTo(lane_x, target.center().y())
                    end = QPointF(target.right(), target.center().y())
                    path.lineTo(end)
                    arrow_head(path, end, QPointF(-1, 0))
                dot = self.scene().addEllipse(QRectF(junction.x() - 3, junction.y() - 3, 6, 6), QPen(Qt.PenStyle.NoPen),
                                              QBrush(QColor("#444444")))
                dot.setZValue(1)
            else:
                start, end = QPointF(source.center().x(), source.bottom()), QPointF(target.center().x(), target.top())
                path.moveTo(start)
                if source_item.node.column == target_item.node.column:
                    path.lineTo(end)
                else:  # on to the next column, or down to the next band: orthogonal, between the columns
                    bend = junction or QPointF(end.x(), end.y() - 10)
                    # Down into the gap under the band, across to the channel left of the target column,
                    # to the level of the block's input, then in from the left: no wire crosses a node.
                    # A hop to the next band runs lower in the gap, so it never shares a wire with the hops
                    # between the columns of one band.
                    same_band = self.bands[source_item.node.column] == self.bands[target_item.node.column]
                    gutter = self.bands[source_item.node.column][1] + (8 if same_band else BAND_GAP // 2 + 6)
                    channel = self._x(target_item.node.column, side) - 12
                    for point in ((start.x(), gutter), (channel, gutter), (channel, bend.y()), (bend.x(), bend.y())):
                        path.lineTo(*point)
                    path.lineTo(end)
                arrow_head(path, end, QPointF(0, 1))
            item = QGraphicsPathItem(path)
            projection = skip and (source_item.node.kind == "projection" or target_item.node.kind == "projection")
            pen = QPen(PROJECTION if projection else QColor("#7a7a7a") if skip else QColor("#444444"), 1.6)
            if skip and not projection:
                pen.setStyle(Qt.PenStyle.DashLine)  # the identity shortcut
            item.setPen(pen)
            item.setZValue(-1)
            self.scene().addItem(item)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """Model names and column titles of the band in view, pinned to the top of the view."""
        if not self.graphs:
            return
        top = self.mapToScene(0, 0).y()
        if top <= self.origins[0][1] + 2:  # the titles in the scene are in view: nothing to pin
            return
        painter.save()
        painter.resetTransform()
        band = QRectF(0, 0, self.viewport().width(), HEADER_H)
        painter.fillRect(band, QColor(250, 250, 250))
        painter.setPen(QColor("#d0d0d0"))
        painter.drawLine(band.bottomLeft(), band.bottomRight())
        bold = QFont(painter.font())
        bold.setBold(True)
        in_view = [c for c, (upper, lower) in enumerate(self.bands) if upper <= top + HEADER_H < lower + BAND_GAP]
        for side, graph in enumerate(self.graphs):
            for column in in_view:
                left = self.mapFromScene(QPointF(self._x(column, side), 0)).x()
                right = self.mapFromScene(QPointF(self._x(column, side) + self.side_w[column] - 20, 0)).x()
                if right < 0 or left > self.viewport().width():
                    continue
                room = int(right - max(left, 0))
                if self.origins[column][0] == 0:  # the model's name once per band, as in the scene
                    span = self.mapFromScene(QPointF(self._x(column, side) + self.side_span - 20, 0)).x()
                    painter.setFont(bold)
                    painter.setPen(side_colour(side, len(self.graphs)))
                    painter.drawText(int(max(left, 0)) + 4, 18, painter.fontMetrics().elidedText(
                        shown(graph.title, 80), Qt.TextElideMode.ElideRight, int(span - max(left, 0))))
                painter.setFont(self.font())
                painter.setPen(QColor("#505050"))
                painter.drawText(int(max(left, 0)) + 4, 36, painter.fontMetrics().elidedText(
                    shown(graph.columns[column] or "(no such stage)", 80), Qt.TextElideMode.ElideRight, room))
        painter.restore()

    def highlight(self, name: str) -> None:
        item = next((i for i in self.items.values() if i.node.block == name), None)
        if item and not item.isSelected():
            self.scene().blockSignals(True)
            self.scene().clearSelection()
            item.setSelected(True)
            self.scene().blockSignals(False)
            self.ensureVisible(item)

    def _selection(self) -> None:
        selected = [i for i in self.scene().selectedItems() if isinstance(i, NodeItem)]
        if not selected:
            return
        node = selected[0].node
        self.node_clicked.emit(block_graph.describe_node(node))
        if node.kind == "run":  # after this signal: redrawing clears the scene that is emitting it
            QTimer.singleShot(0, lambda stage=node.attrs["stage"]: self.toggle_stage(stage))

    def reset_view(self) -> None:
        """Top-left, at a scale where the tallest column fits the height (never below legible text)."""
        self.resetTransform()
        height = self.sceneRect().height()
        if height > self.viewport().height() > 0:
            factor = max(self.legible_scale(), (self.viewport().height() - 10) / height)
            self.scale(factor, factor)
        self._to_top_left()

    def _to_top_left(self) -> None:
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().minimum())
        self.verticalScrollBar().setValue(self.verticalScrollBar().minimum())

    def zoom(self, factor: float) -> None:
        scale = self.transform().m11() * factor
        if 0.05 <= scale <= 8:
            self.scale(factor, factor)

    def fit(self) -> None:
        """The whole diagram in view, unless that makes its text smaller than LEGIBLE_PX: then the legible
        size, from the top left, and the rest by scrolling. Never larger than full size."""
        self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        scale = self.transform().m11()
        if not self.legible_scale() <= scale <= 1:
            self.resetTransform()
            factor = min(1.0, max(self.legible_scale(), scale))
            self.scale(factor, factor)
            self._to_top_left()

    def save(self, path: str) -> None:
        """The whole diagram as PNG (at twice the screen scale) or SVG, by the suffix; OSError on failure."""
        save_scene(self.scene(), path, "ResNet Studio structure diagram")

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)
        else:
            super().wheelEvent(event)
