"""The pieces of the structure diagram: a node, the link that expands or folds a stage, and the drawing
helpers the view shares."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsSimpleTextItem, QGraphicsView

from resnet_studio.core.text import shown
from resnet_studio.gui.viewmodel import block_graph
from resnet_studio.gui.viewmodel.block_graph import Node
from ..plain_text import tooltip

NODE_W, NODE_H, ROW_H, PROJ_W, LANE_GAP = 176, 26, 40, 118, 30
HEADER_H, TITLE_H, BAND_GAP, SIDE_GAP = 46, 76, 40, 60
LEGIBLE_PX = 8.5  # the smallest text height, in screen pixels, that zooming to fit may leave
LINK = QColor("#1f5fbf")
DIFF = QColor("#d9730d")  # nodes that differ from the model compared with
PROJECTION = QColor("#2f6fb3")
FILLS = {"conv": "#e8f0fb", "projection": "#dce9f8", "add": "#fdf3e1", "run": "#f1f1f1", "input": "#eeeeee",
         "output": "#eeeeee", "maxpool": "#f4f4f4", "avgpool": "#f4f4f4", "fc": "#e9f5ea"}


class NodeItem(QGraphicsRectItem):
    def __init__(self, node: Node, rect: QRectF, differs: bool) -> None:
        super().__init__(rect)
        self.node = node
        self.differs = differs
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(tooltip(block_graph.describe_node(node)))
        self.setBrush(QBrush(QColor(FILLS.get(node.kind, "#ffffff"))))

    def paint(self, painter, option, widget=None) -> None:
        selected = self.isSelected()
        colour = QColor("#1f5fbf") if selected else DIFF if self.differs else QColor("#8a8a8a")
        pen = QPen(colour, 2.5 if selected or self.differs else 1)
        if self.node.kind == "run":
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(self.brush())
        radius = NODE_H / 2 if self.node.kind == "add" else 5
        if self.node.kind == "run":  # a stack: the blocks it stands for
            painter.drawRoundedRect(self.rect().translated(6, 5), radius, radius)
            painter.drawRoundedRect(self.rect().translated(3, 2.5), radius, radius)
        painter.drawRoundedRect(self.rect(), radius, radius)
        font = QFont(painter.font())
        font.setBold(self.differs)
        painter.setFont(font)
        painter.setPen(QColor("#202020"))
        # The widths are measured to fit every label (see StructureView._measure): elision is a last resort.
        text = painter.fontMetrics().elidedText(shown(self.node.label, 120), Qt.TextElideMode.ElideRight,
                                                int(self.rect().width()) - 12)
        painter.drawText(self.rect().adjusted(6, 0, -6, 0), Qt.AlignmentFlag.AlignCenter, text)


class StageToggle(QGraphicsSimpleTextItem):
    """A link under a column title that shows every block of the stage, or folds them back into runs."""

    def __init__(self, text: str, stage: str, view: QGraphicsView) -> None:
        super().__init__(text)
        self.stage = stage
        self._view = view
        self.setBrush(QBrush(LINK))
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(tooltip(f"{text} in {stage}"))

    def mousePressEvent(self, event) -> None:
        event.accept()
        # After this event: redrawing clears the scene that is delivering it.
        QTimer.singleShot(0, lambda: self._view.toggle_stage(self.stage))


def side_colour(side: int, sides: int) -> QColor:
    return PROJECTION if sides > 1 and side == 0 else DIFF if sides > 1 else QColor("#202020")


def arrow_head(path: QPainterPath, tip: QPointF, direction: QPointF) -> None:
    back = QPointF(-direction.x() * 7, -direction.y() * 7)
    side = QPointF(-direction.y() * 4, direction.x() * 4)
    path.moveTo(tip)
    path.lineTo(tip + back + side)
    path.moveTo(tip)
    path.lineTo(tip + back - side)
