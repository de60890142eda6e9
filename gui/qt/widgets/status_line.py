"""The status bar's message: one line, elided to fit, with the whole text in its tooltip."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from resnet_studio.core.text import shown
from ..plain_text import tooltip


class StatusLine(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setObjectName("statusLine")
        # Ignored: the label takes the room the status bar gives it, not the room its text asks for.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.message = ""
        self._timer = QTimer(self, singleShot=True, timeout=lambda: self.show_message(""))

    def show_message(self, text: str, timeout_ms: int = 0) -> None:
        """Show ``text`` (first line only) for ``timeout_ms``, or until the next message when 0."""
        lines = text.strip().splitlines()
        self.message = shown(lines[0] if lines else "", 2000)
        self.setToolTip(tooltip(self.message) if self.message else "")
        self._elide()
        if timeout_ms:
            self._timer.start(timeout_ms)
        else:
            self._timer.stop()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setText(self.fontMetrics().elidedText(self.message, Qt.TextElideMode.ElideMiddle, max(0, self.width() - 4)))
