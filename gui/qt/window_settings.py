"""What the main window remembers between runs (QSettings): geometry, splitter, tab, device,
precision and model. A corrupt or foreign settings file falls back to the defaults."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from .menus import TABS

MAX_REOPENED = 2000  # paths kept in the settings file for the next start


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


def stored_flag(settings: QSettings, key: str) -> bool:
    """A stored yes/no: an INI file gives back "true", the platform's store a bool."""
    value = stored(settings, key, False, (bool, str))
    return value is True or value == "true"


def reopens_images(settings: QSettings) -> bool:
    return stored_flag(settings, "reopen_images")


def images_to_open(settings: QSettings, given: list[str], samples: str) -> list[str]:
    """What the window starts with: the images named on the command line; else, when the user asked for it,
    those open when it last closed that still exist; else the samples on the very first start."""
    if given:
        return given
    if reopens_images(settings):
        kept = stored(settings, "images", [], (list, str))
        kept = [kept] if isinstance(kept, str) and kept else kept or []  # one value comes back as a string
        return [p for p in kept if isinstance(p, str) and Path(p).is_file()][:MAX_REOPENED]
    return [] if stored_flag(settings, "first_run_done") else [samples]


def save(window, settings: QSettings) -> None:
    settings.setValue("geometry", window.saveGeometry())
    settings.setValue("splitter", window.splitter.saveState())
    settings.setValue("tab", str(window.tabs.currentIndex()))
    settings.setValue("device", window.studio.device)
    settings.setValue("precision", window.studio.precision)
    if window.studio.info is not None:
        settings.setValue("model", str(window.studio.info.path))
    if reopens_images(settings):
        paths = [e.path for e in window.studio.entries.values() if not e.refused][:MAX_REOPENED]
        settings.setValue("images", paths or "")
    settings.sync()
