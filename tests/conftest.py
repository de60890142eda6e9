"""Fixtures every area shares: the window opened as the app opens it, and the hostile image cases."""

import os

import pytest

# Qt tests run headless; set before pytest-qt creates the QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def open_window(qtbot, tmp_path):
    """``open_window(models_dir, model)`` opens the main window on ``model`` (None: the default), with
    settings in a temp file, and waits until the model is loaded and listed in the picker. Every window is
    closed at the end."""
    from PySide6.QtCore import QSettings
    from resnet_studio.core.catalog import Catalog
    from resnet_studio.gui.qt.main_window import MainWindow
    from runners import TIMEOUT

    opened = []

    def open_(models_dir=None, model=None, settings=None, device="cpu"):
        from PySide6.QtWidgets import QApplication
        from resnet_studio.gui.qt.style import apply_style

        apply_style(QApplication.instance())  # as the app starts: Fusion with its focus ring
        settings = settings or QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(Catalog(models_dir or tmp_path / "user-models"), settings, device,
                            None if model is None else str(model))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.studio.info is not None and window.studio.current_offer() is not None,
                        timeout=TIMEOUT)
        opened.append(window)
        return window

    yield open_
    for window in opened:
        window.close()


@pytest.fixture(autouse=True, scope="session")
def preset_choices_in_a_temp_folder(tmp_path_factory):
    """The preprocessing chosen for foreign files is a user's setting: tests keep theirs apart (children too)."""
    import os

    os.environ["RESNET_STUDIO_CONFIG_DIR"] = str(tmp_path_factory.mktemp("config"))


@pytest.fixture(scope="session")
def cases(tmp_path_factory):
    """The hostile and odd image files (``hostile.image_cases``), made once."""
    from hostile import image_cases

    folder = tmp_path_factory.mktemp("hostile")
    return folder, image_cases(folder)


@pytest.fixture(autouse=True)
def collect_garbage_between_tests():
    """Once a window exists, pyqtgraph's collector turns Python's automatic collection off and collects on
    a GUI-thread timer, which runs only inside an event loop; collect here, on the GUI thread, after each test."""
    yield
    import gc

    if not gc.isenabled():
        gc.collect()
