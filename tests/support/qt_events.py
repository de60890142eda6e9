"""Real Qt events for the tests, built as a window system would deliver them."""

import warnings

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication


def drop(window, urls: list[QUrl], at: QPoint = QPoint(20, 20)) -> None:
    """Drag ``urls`` over ``window`` (a widget, or a list's viewport) and drop them at ``at``."""
    mime = QMimeData()
    mime.setUrls(urls)
    with warnings.catch_warnings():
        # PySide marks QDragEnterEvent's only constructor deprecated; there is no other way to build one.
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(at), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)


def files(paths) -> list[QUrl]:
    return [QUrl.fromLocalFile(str(p)) for p in paths]


def action(window, text: str):
    """The window's menu action whose text (without the & mnemonic) is ``text``."""
    from PySide6.QtGui import QAction

    found = [a for a in window.findChildren(QAction) if a.text().replace("&", "") == text]
    assert len(found) == 1, f"{len(found)} actions named {text!r}"
    return found[0]


def answer_save_dialog(monkeypatch, path, chosen: str = "") -> list:
    """Answer the next QFileDialog.getSaveFileName with ``path``; returns the (caption, folder) it was asked with."""
    from PySide6.QtWidgets import QFileDialog

    asked = []

    def answer(parent, caption="", folder="", filters="", *args, **kwargs):
        asked.append((caption, folder))
        return str(path), chosen

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(answer))
    return asked


def drop_mime(window, mime) -> None:
    """Drop ``mime`` (an image as data, say) on the window, as a window system would deliver it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime,
                                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))


def wheel(widget, pos, delta_y: int) -> None:
    """One turn of the mouse wheel over ``widget`` at ``pos``, through the application as a real one arrives
    (so a widget that ignores it passes it on to its parents)."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    event = QWheelEvent(QPointF(pos), QPointF(widget.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, delta_y),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def hover(widget, pos) -> None:
    """The mouse moving over ``widget`` to ``pos`` with no button down, delivered as the window system
    delivers it (QTest's mouseMove can be dropped when the cursor is already at that screen position)."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    local = QPointF(pos)
    event = QMouseEvent(QMouseEvent.Type.MouseMove, local, QPointF(widget.mapToGlobal(pos)), Qt.MouseButton.NoButton,
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
