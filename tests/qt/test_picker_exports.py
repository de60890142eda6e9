"""Variants chosen from the picker: exported in a child process, cancelled, offline fallback, twins."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from resnet_studio.core.catalog import DEFAULT_MODEL, Catalog, shipped_models_dir
from resnet_studio.gui.qt.main_window import MainWindow
from runners import plant

TIMEOUT = 120_000



@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No checkpoint cached, and every download refused at once (nothing listens on port 9)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("RESNET_STUDIO_WEIGHTS_MIRROR", "http://127.0.0.1:9/models/")



@pytest.fixture
def app_window(qtbot, tmp_path, offline):
    windows = []

    def open_(model=None):
        models = tmp_path / "models"
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(Catalog(models), settings, "cpu", model)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.studio.info is not None and bool(window.picker.offers), timeout=TIMEOUT)
        windows.append(window)
        return window

    yield open_
    for window in windows:
        window.close()



def add_images(window, qtbot, tmp_path, count=3):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = tmp_path / f"photo{i}.png"
        Image.fromarray(rng.integers(0, 255, (48, 40, 3), dtype=np.uint8)).save(path)
        paths.append(str(path))
    window.studio.add_paths(paths)
    qtbot.waitUntil(lambda: all(e.result for e in window.studio.entries.values()), timeout=TIMEOUT)



def choose(window, qtbot, text: str) -> None:
    """Open the picker, type to filter, press Enter: what a user does."""
    window.picker.open_popup()
    qtbot.keyClicks(window.picker.filter, text)
    qtbot.keyClick(window.picker.filter, Qt.Key.Key_Return)



def user_files(window) -> list[str]:
    return sorted(os.listdir(window.catalog.models_dir))



def test_choosing_an_unexported_variant_exports_it_and_reclassifies(app_window, qtbot, tmp_path, monkeypatch):
    # The app was started from a folder holding json.py and argparse.py: the export child must not import them.
    planted = tmp_path / "downloads"
    planted.mkdir()
    marker = plant(planted)
    monkeypatch.chdir(planted)
    window = app_window()
    add_images(window, qtbot, tmp_path)
    stages = []
    choose(window, qtbot, "resnet32 random")
    assert window.actions.export_job is not None and window.export_bar.isVisible()
    window.actions.export_job.stage.connect(lambda precision, stage, done, total: stages.append(stage))
    qtbot.waitUntil(lambda: window.studio.info.variant == "resnet32"
                    and all(e.result and e.result.model == "resnet32-random-fp32"
                            for e in window.studio.entries.values()), timeout=TIMEOUT)
    assert stages[-2:] == ["export", "verify"]
    assert user_files(window) == ["resnet32-random-fp32.onnx"]  # no temp folder or file left
    assert not window.export_bar.isVisible()
    assert window.picker.button.text() == "resnet32-random · fp32"
    offer = window.studio.current_offer()
    assert offer.exported and offer.state() == "on disk: fp32"
    assert not marker.exists()



def test_cancel_halfway_leaves_nothing_and_keeps_the_model(app_window, qtbot):
    window = app_window()
    before = window.studio.info.path
    choose(window, qtbot, "resnet110")
    seen = []
    window.actions.export_job.stage.connect(lambda precision, stage, done, total: seen.append(stage))
    qtbot.waitUntil(lambda: "export" in seen, timeout=TIMEOUT)
    qtbot.mouseClick(window.export_bar.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.actions.export_job is None, timeout=TIMEOUT)
    assert user_files(window) == []
    assert window.studio.info.path == before and not window.export_bar.isVisible()
    assert "cancelled" in window.status_line.message



@pytest.mark.slow  # an export in the child: 20 s
def test_offline_imagenet_says_where_the_file_goes_and_falls_back_to_random(app_window, qtbot, tmp_path):
    window = app_window()
    choose(window, qtbot, "resnet18 imagenet")
    qtbot.waitUntil(lambda: window.actions.export_job is None, timeout=TIMEOUT)
    message = window.export_bar.label.text()
    assert "http://127.0.0.1:9/models/resnet18-f37072fd.pth" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in message
    assert window.export_bar.fallback.isVisible() and user_files(window) == []
    qtbot.mouseClick(window.export_bar.fallback, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.studio.info.name == "resnet18-random-fp32", timeout=TIMEOUT)
    assert window.studio.info.weights_source.startswith("untrained")
    assert window.studio.current_offer().group == "untrained"



def test_a_file_copied_into_the_models_folder_appears_without_a_restart(app_window, qtbot):
    window = app_window()
    assert not any(o.title == "copied" for o in window.picker.offers)
    shutil.copy(shipped_models_dir() / "resnext29-fashion-mnist.onnx", window.catalog.models_dir / "copied.onnx")
    qtbot.waitUntil(lambda: any(o.title == "copied" and o.exported for o in window.picker.offers), timeout=TIMEOUT)
    (window.catalog.models_dir / "copied.onnx").unlink()
    qtbot.waitUntil(lambda: not any(o.title == "copied" for o in window.picker.offers), timeout=TIMEOUT)



def loaded(window, qtbot, condition) -> None:
    """Wait for a model load to land; a load that fails fails the test at once, with its reason."""
    failures = []
    window.studio.model_failed.connect(failures.append)
    try:
        qtbot.waitUntil(lambda: bool(failures) or condition(), timeout=TIMEOUT)
    finally:
        window.studio.model_failed.disconnect(failures.append)
    assert not failures, failures



def test_twins_run_int8_on_the_cpu_and_the_menu_overrides_it(app_window, qtbot):
    window = app_window()
    assert window.studio.info.path.name == f"{DEFAULT_MODEL}-int8.onnx"
    runs = window.studio.handle.label  # CPU · ONNX Runtime, or CPU · OpenVINO where this CPU runs it fastest
    assert runs.startswith("CPU · ") and window.provider.text() == f"{runs} · int8"
    window.menus.precision["fp32"].trigger()
    loaded(window, qtbot, lambda: window.studio.info.precision == "fp32")
    assert window.studio.info.path.name == f"{DEFAULT_MODEL}.onnx" and window.provider.text() == f"{runs} · fp32"
    window.menus.runtime["openvino"].trigger()
    loaded(window, qtbot, lambda: window.studio.handle.provider == "OpenVINO")
    assert window.provider.text() == f"{window.studio.handle.label} · fp32" and "OpenVINO" in window.provider.text()
    window.menus.runtime["onnxruntime"].trigger()
    loaded(window, qtbot, lambda: window.studio.handle.provider == "CPUExecutionProvider")
    assert window.provider.text() == "CPU · ONNX Runtime · fp32"
    assert window.picker.button.text() == f"{DEFAULT_MODEL} · fp32"
    window.menus.precision["auto"].trigger()
    loaded(window, qtbot, lambda: window.studio.info.precision == "int8")



@pytest.mark.slow  # an int8 export in the child: 35 s
def test_an_int8_twin_calibrated_on_the_users_images_joins_its_model(app_window, qtbot, tmp_path):
    window = app_window()
    choose(window, qtbot, "resnet20 random")
    qtbot.waitUntil(lambda: window.studio.info.name == "resnet20-random-fp32", timeout=TIMEOUT)
    photos = tmp_path / "calibration"
    photos.mkdir()
    rng = np.random.default_rng(3)
    for i in range(64):
        Image.fromarray(rng.integers(0, 255, (40, 40), dtype=np.uint8), "L").save(photos / f"{i}.png")
    # What the context menu's "Make an int8 twin…" starts once the folder is chosen.
    window.actions.start_export("resnet20", "random", ["int8"], str(photos))
    stages = []
    window.actions.export_job.stage.connect(lambda precision, stage, done, total: stages.append(stage))
    qtbot.waitUntil(lambda: window.actions.export_job is None and window.studio.info.precision == "int8", timeout=TIMEOUT)
    assert "quantize" in stages and not window.export_bar.isVisible()
    offer = window.studio.current_offer()
    assert sorted(offer.files) == ["fp32", "int8"] and offer.pick("cpu").path.name == "resnet20-random-int8.onnx"
    assert user_files(window) == ["resnet20-random-fp32.onnx", "resnet20-random-int8.onnx"]

