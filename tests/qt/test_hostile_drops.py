"""Every hostile image case dropped on the real window: a reason each, the window goes on."""

import os
import urllib.parse

from hostile import MARKER_NAME
from runners import DEFAULT


def test_every_image_case_through_the_drop_path(cases, qtbot, tmp_path):
    from PySide6.QtCore import QSettings, QUrl
    from qt_events import drop
    from resnet_studio.core.catalog import Catalog
    from resnet_studio.gui.qt.main_window import MainWindow

    folder, found = cases
    window = MainWindow(Catalog(tmp_path), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), "cpu",
                        str(DEFAULT))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.studio.info is not None, timeout=60_000)
    # As a file manager sends them: percent-encoded bytes, which need not be UTF-8.
    urls = [QUrl(source) if "://" in source else
            QUrl.fromEncoded(b"file://" + urllib.parse.quote_from_bytes(os.fsencode(source)).encode())
            for _, source, _ in found]
    drop(window, urls)
    qtbot.waitUntil(lambda: len(window.studio.entries) == len(found)
                    and all(e.result or e.error for e in window.studio.entries.values()), timeout=120_000)
    by_path = {e.path: e for e in window.studio.entries.values()}
    for name, source, expect in found:
        entry = by_path[source]
        if expect is None:
            assert entry.result is not None and entry.error is None, f"{name}: {entry.error}"
        else:
            assert entry.error and expect in entry.error, f"{name}: {entry.error}"
    assert window.isVisible() and not (folder / MARKER_NAME).exists()
    window.studio.shutdown()

