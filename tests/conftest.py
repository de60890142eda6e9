import os

import pytest

# Qt tests run headless; set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")



@pytest.fixture
def open_window(qtbot, tmp_path):
    """Open the main window on a model, with settings in a temp file; wait until the model is loaded."""
    from PySide6.QtCore import QSettings

    from resnet_studio.core.catalog import Catalog
    from resnet_studio.gui.qt.main_window import MainWindow

    opened = []

    def open_(models_dir, model):
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(Catalog(models_dir), settings, "cpu", str(model))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.studio.info is not None, timeout=60_000)
        opened.append(window)
        return window

    yield open_
    for window in opened:
        window.studio.shutdown()
