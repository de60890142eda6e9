"""Labels and tooltips that never render text from a file as rich text.

Qt shows a QLabel or a tooltip as HTML when the text looks like HTML, and an ``<img src=...>``
in it makes Qt read that path on the GUI thread. Every label the app creates comes from
``plain_label``; every tooltip that can hold such text goes through ``tooltip``.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from resnet_studio.core.text import shown


def plain_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    label = QLabel(parent)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def warning_label(name: str) -> QLabel:
    """A plain, wrapping label in the app's warning colours, hidden until there is something to say."""
    label = plain_label()
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet(f"#{name} {{ background: #fff4e5; color: #7a4100; border: 1px solid #f0c38e;"
                        f" border-radius: 4px; padding: 6px; }}")
    label.hide()
    return label


def tooltip(text: str, lines: int = 12) -> str:
    """``text`` escaped inside explicit rich text (Qt guesses the format of a tooltip), each line bounded."""
    shown_lines = [html.escape(shown(line, 300)) for line in text.splitlines()[:lines]]
    return "<p style='white-space:pre'>" + "<br>".join(shown_lines) + "</p>"
