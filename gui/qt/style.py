"""The app's style: Fusion, with a focus ring a keyboard user can find after Tab."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory, QStyleOption

P, C = QStyle.PrimitiveElement, QStyle.ComplexControl
# What can hold the focus, drawn as a primitive or as a complex control: the ring goes over it.
RINGED_PRIMITIVES = {P.PE_PanelButtonCommand, P.PE_PanelButtonTool, P.PE_FrameLineEdit, P.PE_IndicatorCheckBox,
                     P.PE_IndicatorRadioButton}
RINGED_CONTROLS = {C.CC_ComboBox, C.CC_SpinBox, C.CC_Slider, C.CC_ToolButton}


def draw_focus_ring(painter: QPainter, rect, palette: QPalette) -> None:
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 2))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRoundedRect(QRectF(rect).adjusted(1, 1, -1, -1), 3, 3)
    painter.restore()


def _keyboard_focus(option: QStyleOption) -> bool:
    """Focus that came from the keyboard: Qt marks the window when Tab moved it, and clears it on a click."""
    state = option.state
    return bool(state & QStyle.StateFlag.State_HasFocus and state & QStyle.StateFlag.State_KeyboardFocusChange)


class FocusRingStyle(QProxyStyle):
    def drawPrimitive(self, element, option, painter, widget=None) -> None:
        if element == P.PE_FrameFocusRect:  # Fusion's own is a faint dotted line: ours instead
            if _keyboard_focus(option) or option.state & QStyle.StateFlag.State_KeyboardFocusChange:
                draw_focus_ring(painter, option.rect, option.palette)
            return
        super().drawPrimitive(element, option, painter, widget)
        if element in RINGED_PRIMITIVES and _keyboard_focus(option):
            draw_focus_ring(painter, option.rect, option.palette)

    def drawComplexControl(self, control, option, painter, widget=None) -> None:
        super().drawComplexControl(control, option, painter, widget)
        if control in RINGED_CONTROLS and _keyboard_focus(option):
            draw_focus_ring(painter, option.rect, option.palette)


def apply_style(app: QApplication) -> None:
    app.setStyle(FocusRingStyle(QStyleFactory.create("Fusion")))
