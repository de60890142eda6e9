"""Real Qt events for the tests, built as a window system would deliver them."""

import warnings

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication


def drop(window, urls: list[QUrl]) -> None:
    mime = QMimeData()
    mime.setUrls(urls)
    with warnings.catch_warnings():
        # PySide marks QDragEnterEvent's only constructor deprecated; there is no other way to build one.
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)


def files(paths) -> list[QUrl]:
    return [QUrl.fromLocalFile(str(p)) for p in paths]
