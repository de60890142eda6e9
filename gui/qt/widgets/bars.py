"""The bars above the panels: an export's progress with Cancel, and a busy indicator."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from resnet_studio.core.text import shown
from ..plain_text import plain_label


class ExportBar(QWidget):
    """What an export started from the app is doing, with Cancel; on a failed download, the way on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.setStyleSheet("#exportBar { background: palette(alternate-base); border-bottom: 1px solid palette(mid); }")
        self.label = plain_label()
        self.label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.cancel = QPushButton("Cancel")
        self.fallback = QPushButton("Use random weights (untrained)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.fallback)
        layout.addWidget(self.cancel)
        self.hide()

    def start(self, text: str) -> None:
        self.label.setText(text)
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.show()
        self.fallback.hide()
        self.cancel.setText("Cancel")
        self.show()

    def stage(self, text: str, share: float | None) -> None:
        """``share``: the part of the whole export done, or None while it cannot be told."""
        self.label.setText(text)
        if share is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * share))

    def fail(self, text: str, offer_fallback: bool) -> None:
        self.label.setText(f"⚠ {shown(text, 600)}")
        self.progress.hide()
        self.fallback.setVisible(offer_fallback)
        self.cancel.setText("Dismiss")
        self.show()


class BusyBar(QWidget):
    """Shown in the status bar while a model loads (the panels show the previous one until then) or a fit runs."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = plain_label()
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # indeterminate: ONNX Runtime reports no progress while it builds a session
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)
        self.hide()

    def start(self, text: str) -> None:
        self.label.setText(shown(text, 200))
        self.show()

    def stop(self, still_loading: int) -> None:
        if still_loading <= 0:
            self.hide()
