"""What reaches the real window by drop, paste and File → Export: URLs of other machines, relative
references, huge drops and huge images (the GUI thread stays responsive), folders a thousand levels
deep, a device as the results file, a model swapped while loaded, and a models folder made anew."""

import os
import shutil
import stat

import numpy as np
from PIL import Image
from PySide6.QtCore import QElapsedTimer, QMimeData, QTimer, QUrl
from PySide6.QtWidgets import QApplication

from onnx_builders import endless_loop_classifier, save
from qt_events import action, answer_save_dialog, drop, drop_mime, files
from runners import DEFAULT, SAMPLES, TIMEOUT, all_done, deep_folder, remove_deep

# The longest the window may stop answering while a drop or a paste is taken in. Before the intake moved
# off the GUI thread these stalls were 3-13 s; the bound is loose because the machine is shared.
STALL_BOUND_MS = 1500


class StallMeter:
    """The longest gap between two ticks of a 10 ms timer: how long the event loop was blocked."""

    def __init__(self) -> None:
        self.clock, self.gaps = QElapsedTimer(), [0]
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(lambda: self.gaps.append(self.clock.restart()))

    def __enter__(self):
        self.clock.start()
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.stop()

    @property
    def longest(self) -> int:
        return max(self.gaps)


def test_urls_of_other_machines_and_relative_references_are_refused(open_window, qtbot, tmp_path, monkeypatch):
    local = tmp_path / "here.png"
    shutil.copy(SAMPLES / "bag-test18.png", local)
    (tmp_path / "canary.png").write_bytes(local.read_bytes())
    monkeypatch.chdir(tmp_path)  # where a relative reference would land
    window = open_window()
    drop(window, [QUrl(f"file://otherhost{local}"), QUrl("canary.png"), QUrl("../outside/secret.png"),
                  QUrl.fromLocalFile(str(local))])
    qtbot.waitUntil(lambda: len(window.studio.entries) == 4 and all_done(window), timeout=TIMEOUT)
    errors = sorted(e.error.split(": ", 1)[1] for e in window.studio.entries.values() if e.error)
    assert errors == ["a file on another machine (otherhost) is not opened",
                      "not a file URL; drop files from a file manager or give a full path",
                      "not a file URL; drop files from a file manager or give a full path"]
    assert [e.path for e in window.studio.entries.values() if e.result] == [str(local)]


def test_a_hundred_thousand_dropped_urls_never_freeze_the_window(open_window, qtbot, tmp_path):
    window = open_window()
    urls = [QUrl.fromLocalFile(str(tmp_path / f"missing-{i}.png")) for i in range(100_000)]
    with StallMeter() as meter:
        drop(window, urls)
        qtbot.waitUntil(lambda: len(window.studio.entries) == 5000, timeout=TIMEOUT)
    assert meter.longest < STALL_BOUND_MS, f"the window stalled {meter.longest} ms"
    assert window.list.count() == 5000 and "added the first 5,000 images" in window.notice.text()


def smooth_png(path, width, height):
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    picture = np.concatenate([np.broadcast_to(x, (height, width, 1)), np.broadcast_to(y, (height, width, 1)),
                              np.broadcast_to((x + y) / 2, (height, width, 1))], axis=2).astype(np.uint8)
    Image.fromarray(picture).save(path, compress_level=1)
    return path.read_bytes()


def test_a_huge_image_dropped_or_pasted_as_data_is_decoded_off_the_gui_thread(open_window, qtbot, tmp_path):
    window = open_window()
    data = smooth_png(tmp_path / "huge.png", 7000, 7000)
    mime = QMimeData()
    mime.setData("image/png", data)
    with StallMeter() as meter:
        drop_mime(window, mime)
        qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    assert meter.longest < STALL_BOUND_MS, f"the window stalled {meter.longest} ms"
    (entry,) = window.studio.entries.values()
    assert entry.result is not None and entry.name.endswith(".png")
    clipboard = QMimeData()
    clipboard.setData("image/png", smooth_png(tmp_path / "photo.png", 6000, 4000))  # 24 megapixels
    QApplication.clipboard().setMimeData(clipboard)
    with StallMeter() as meter:
        action(window, "Paste image").trigger()
        qtbot.waitUntil(lambda: len(window.studio.entries) == 2 and all_done(window), timeout=TIMEOUT)
    assert meter.longest < STALL_BOUND_MS, f"the window stalled {meter.longest} ms"


def test_a_folder_a_thousand_levels_deep_keeps_every_image(open_window, qtbot, tmp_path):
    top = tmp_path / "deep"
    deep = deep_folder(top, 1100)
    shutil.copy(SAMPLES / "bag-test18.png", top / "top.png")
    shutil.copy(SAMPLES / "coat-test6.png", deep / "bottom.png")
    try:
        window = open_window()
        drop(window, files([top]))
        qtbot.waitUntil(lambda: len(window.studio.entries) == 2 and all_done(window), timeout=TIMEOUT)
        assert sorted(e.name for e in window.studio.entries.values() if e.result) == ["bottom.png", "top.png"]
    finally:
        remove_deep(top)


def test_a_device_chosen_as_the_results_file_stays_a_device(open_window, qtbot, tmp_path, monkeypatch):
    target = tmp_path / "results.csv"
    try:
        os.mknod(target, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError):
        os.mkfifo(target)
    window = open_window()
    drop(window, files([SAMPLES / "bag-test18.png"]))
    qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    answer_save_dialog(monkeypatch, target)
    action(window, "Export results…").trigger()
    assert "not a regular file" in window.notice.text()
    mode = os.lstat(target).st_mode
    assert stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def test_a_model_swapped_while_loaded_runs_its_checked_bytes_or_is_refused(open_window, qtbot, tmp_path):
    models = tmp_path / "user-models"
    models.mkdir()
    path = models / "mine.onnx"
    shutil.copy(DEFAULT, path)
    window = open_window(models, path)
    save(endless_loop_classifier(), path)  # what the reader refuses, in place of the checked file
    drop(window, files([SAMPLES / "bag-test18.png"]))
    qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    (entry,) = window.studio.entries.values()
    assert entry.result.predictions[0].label == "Bag"  # the checked bytes ran, with their own labels
    window.list.setCurrentRow(0)
    window.tabs.setCurrentWidget(window.activations)  # needs a new session: it must not be built from the swap
    qtbot.waitUntil(lambda: "changed on disk since it was checked" in window.notice.text(), timeout=TIMEOUT)


def test_the_models_folder_deleted_and_made_again_is_still_watched(open_window, qtbot, tmp_path):
    models = tmp_path / "user-models"
    window = open_window(models, DEFAULT)
    qtbot.waitUntil(lambda: bool(window.studio.offers), timeout=TIMEOUT)
    shutil.rmtree(models)
    qtbot.wait(600)
    models.mkdir()
    qtbot.wait(600)
    shutil.copy(SAMPLES.parent / "resnext29-fashion-mnist.onnx", models / "copied-in.onnx")
    qtbot.waitUntil(lambda: any(o.title == "copied-in" for o in window.studio.offers), timeout=TIMEOUT)
