"""What the main window remembers between runs (QSettings): geometry, splitter, tab, device,
precision and model. A corrupt or foreign settings file falls back to the defaults."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

from .menus import TABS


def stored(settings: QSettings, key: str, default, kind):
    """A stored value of the expected type, or the default when missing or corrupt."""
    try:
        value = settings.value(key, default)
    except Exception:  # noqa: BLE001 - a corrupt settings file must not stop the app
        return default
    return value if isinstance(value, kind) else default


def restore(window, settings: QSettings) -> None:
    geometry = stored(settings, "geometry", None, QByteArray)
    screen = window.screen().availableGeometry()
    if geometry is None or not window.restoreGeometry(geometry):
        # The first window fits the screen (a 1366x768 laptop included), frame and all.
        window.resize(min(1280, screen.width() - 40), min(800, screen.height() - 60))
    elif not screen.contains(window.frameGeometry()):  # saved on a larger screen
        window.resize(min(window.width(), screen.width() - 40), min(window.height(), screen.height() - 60))
        window.move(screen.topLeft())
    splitter = stored(settings, "splitter", None, QByteArray)
    if splitter is not None:
        window.splitter.restoreState(splitter)
    try:  # "²" passes str.isdigit() and fails int()
        tab = int(stored(settings, "tab", "0", str))
    except ValueError:
        tab = 0
    window.tabs.setCurrentIndex(tab if 0 <= tab < len(TABS) else 0)


def save(window, settings: QSettings) -> None:
    settings.setValue("geometry", window.saveGeometry())
    settings.setValue("splitter", window.splitter.saveState())
    settings.setValue("tab", str(window.tabs.currentIndex()))
    settings.setValue("device", window.studio.device)
    settings.setValue("precision", window.studio.precision)
    if window.studio.info is not None:
        settings.setValue("model", str(window.studio.info.path))
    settings.sync()
