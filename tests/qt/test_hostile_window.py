"""Hostile text, models and settings met in the real window: plain text only, reasons, and a window that opens."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from onnx_builders import save, third_party_classifier
from PIL import Image
from PySide6.QtCore import QSettings
from qt_events import drop, files
from resnet_studio.core.catalog import DEFAULT_MODEL, Catalog
from resnet_studio.gui.qt.main_window import MainWindow
from runners import DEFAULT, all_done, cli, one_line_refusal, with_metadata

TIMEOUT = 60_000


class FifoProbe:
    """A FIFO that records whether anything opened it for reading, without ever blocking the reader."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path, self.opened, self._closing = path, threading.Event(), False
        self._thread = threading.Thread(target=self._wait, daemon=True)
        self._thread.start()

    def _wait(self) -> None:
        while not self._closing:  # serve every open, so a reader that comes back is not blocked either
            fd = os.open(self.path, os.O_WRONLY)  # returns once a reader has opened the FIFO
            if not self._closing:
                self.opened.set()
            os.close(fd)
            time.sleep(0.01)

    def close(self) -> None:
        self._closing = True
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)  # lets the waiting writer go
        self._thread.join(5)
        os.close(fd)


WINDOW_SCRIPT = """
import os, sys, time
sys.path.insert(0, sys.argv[3])
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtWidgets import QApplication, QLabel, QToolTip
from qt_events import drop, files
from resnet_studio.core.catalog import Catalog
from resnet_studio.gui.qt.main_window import MainWindow

app = QApplication([])
window = MainWindow(Catalog(sys.argv[2]), QSettings("s.ini", QSettings.Format.IniFormat), "cpu", sys.argv[1])
window.show()

def wait(condition, seconds=60):
    end = time.time() + seconds
    while not condition() and time.time() < end:
        app.processEvents()
        time.sleep(0.01)

wait(lambda: window.studio.info is not None)
drop(window, files([os.path.abspath("<img src=probe>.png")]))
wait(lambda: all(e.result or e.error for e in window.studio.entries.values()))
window.list.setCurrentRow(0)
for tab in range(3):
    window.tabs.setCurrentIndex(tab)
    wait(lambda: False, 0.2)
    window.grab()  # paints every visible widget, as a screen would
QToolTip.showText(QPoint(10, 10), window.list.item(0).toolTip(), window.list)
QToolTip.showText(QPoint(10, 10), window.provider.toolTip(), window.provider)
wait(lambda: False, 0.3)
# Qt's own tooltip label is rich text by design; what reaches it is escaped.
ours = [label for label in window.findChildren(QLabel) if label.metaObject().className() != "QTipLabel"]
print("labels", len(ours), "plain", sum(label.textFormat() == Qt.TextFormat.PlainText for label in ours))
print("title", len(window.predictions.title.text()), "<img" in window.predictions.title.text())
print("minimum width", window.minimumSizeHint().width())
"""


def test_html_in_a_file_name_and_in_labels_never_reaches_qt_as_html(tmp_path):
    # In a child process: were Qt to read the payload, the window would freeze, and the timeout says so.
    probe = FifoProbe(tmp_path / "probe")
    Image.new("L", (28, 28), 200).save(tmp_path / "<img src=probe>.png")  # relative: the child's working folder
    labels = [f'<img src="{probe.path}" alt="{i}">' for i in range(9)] + ["<img width=100000 src=x>" + "w" * 400]
    model = with_metadata(tmp_path / "user-models" / "html-labels.onnx", labels=labels)
    try:
        result = subprocess.run([sys.executable, "-c", WINDOW_SCRIPT, str(model), str(tmp_path / "user-models"),
                                 str(Path(__file__).parents[1] / "support")], capture_output=True, text=True, timeout=120,
                                cwd=tmp_path, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    finally:
        probe.close()
    assert not probe.opened.is_set()
    report = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    count, plain = report["labels"].split(" plain ")
    assert int(count) > 10 and count == plain, result.stdout
    assert report["title"].endswith("True") and int(report["title"].split()[0]) < 260
    assert int(report["minimum"].split()[-1]) < 3000


def test_a_fixed_batch_of_one_runs_image_by_image(tmp_path, open_window, qtbot):
    model = save(third_party_classifier(size=32, classes=10, batch=1), tmp_path / "batch1.onnx")
    samples = sorted((DEFAULT.parent / "samples").glob("*.png"))[:3]
    result = cli("predict", *samples, "--model", model, "--json", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert [len(r["predictions"]) for r in json.loads(result.stdout)["results"]] == [5, 5, 5]
    window = open_window(None, model)
    drop(window, files(samples))
    qtbot.waitUntil(lambda: len(window.studio.entries) == 3 and all_done(window), timeout=TIMEOUT)
    assert all(e.result for e in window.studio.entries.values())


def test_a_graph_wider_than_it_declares_fails_with_a_reason_and_the_next_model_classifies(tmp_path, open_window,
                                                                                           qtbot):
    model = save(third_party_classifier(size=32, classes=10, real_classes=12), tmp_path / "wide.onnx")
    image = DEFAULT.parent / "samples" / "bag-test18.png"
    one_line_refusal(cli("predict", image, "--model", model, "--device", "cpu"), "declares 10 classes")
    window = open_window(None, model)
    drop(window, files([image, image]))
    qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    assert all("gave logits of shape [2, 12]" in e.error for e in window.studio.entries.values())
    qtbot.waitUntil(lambda: not window.progress.isVisible(), timeout=5000)  # hidden once the last result is shown
    window.studio.load_model(str(DEFAULT))
    qtbot.waitUntil(lambda: window.studio.info.name == DEFAULT_MODEL and all(
        e.result for e in window.studio.entries.values()), timeout=TIMEOUT)


def test_a_symlink_loop_in_the_models_folder(tmp_path, open_window):
    folder = tmp_path / "user-models"
    folder.mkdir()
    os.symlink(folder / "loop.onnx", folder / "loop.onnx")
    listed = cli("models", "--models-dir", folder)
    assert listed.returncode == 0 and "loop" in listed.stdout and "Traceback" not in listed.stderr
    assert cli("predict", DEFAULT.parent / "samples" / "bag-test18.png", "--models-dir", folder).returncode == 0
    window = open_window(folder, None)
    assert window.studio.info is not None


def test_odd_settings_and_a_vanished_last_model_still_open_the_app(tmp_path, open_window, qtbot):
    fifo = tmp_path / "fifo.onnx"
    os.mkfifo(fifo)
    for last in (tmp_path / "deleted.onnx", fifo):
        settings = QSettings(str(tmp_path / f"{last.stem}.ini"), QSettings.Format.IniFormat)
        settings.setValue("tab", "²")  # str.isdigit() says yes, int() says no
        settings.setValue("model", str(last))
        window = MainWindow(Catalog(tmp_path / "user-models"), settings, "cpu")
        qtbot.addWidget(window)
        qtbot.waitUntil(lambda: window.studio.info is not None, timeout=TIMEOUT)
        assert window.studio.current_offer().title == DEFAULT_MODEL
        assert "opened the default model instead" in window.notice.text() and window.tabs.currentIndex() == 0
        window.close()
    assert "not a regular file" in window.notice.text()

