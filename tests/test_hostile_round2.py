"""The second hostile review, one or more cases per class, through predict (a subprocess) and the
real window: untrusted text, models that fail at run time, catalog and start-up, images,
export and train arguments, and the CUDA reason."""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from onnx_builders import endless_loop_classifier, save, third_party_classifier
from qt_events import drop, files
from resnet_studio.core.catalog import DEFAULT_MODEL, Catalog, shipped_models_dir
from resnet_studio.core.model_file import ModelRejected, read_model
from resnet_studio.core.session import RunFailed, SessionPool, cuda_reason, driver_problem
from resnet_studio.gui.qt.main_window import MainWindow

DEFAULT = shipped_models_dir() / f"{DEFAULT_MODEL}.onnx"
TIMEOUT = 60_000


def cli(*args, timeout=120, **kwargs):
    return subprocess.run([sys.executable, "-m", "resnet_studio.gui.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, errors="replace", **kwargs)


def export_cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "resnet_studio.export.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def with_metadata(target: Path, **updates) -> Path:
    """A copy of the shipped default model with some metadata replaced (values JSON-encoded)."""
    model = onnx.load(str(DEFAULT))
    props = {p.key: p.value for p in model.metadata_props}
    props.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in updates.items()})
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(target))
    return target


def one_line_refusal(result, expect: str) -> None:
    assert result.returncode == 2, result.stderr
    assert expect in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


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


@pytest.fixture
def window_on(qtbot, tmp_path):
    opened = []

    def open_(model, models_dir=None, settings=None, device="cpu"):
        settings = settings or QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(Catalog(models_dir or tmp_path / "user-models"), settings, device,
                            None if model is None else str(model))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.studio.info is not None, timeout=TIMEOUT)
        opened.append(window)
        return window

    yield open_
    for window in opened:
        window.close()


def all_done(window) -> bool:
    return bool(window.studio.entries) and all(e.result or e.error for e in window.studio.entries.values())


# 1. Untrusted text is shown as text -----------------------------------------------------------------------


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
                                 str(Path(__file__).parent)], capture_output=True, text=True, timeout=120,
                                cwd=tmp_path, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    finally:
        probe.close()
    assert not probe.opened.is_set()
    report = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    count, plain = report["labels"].split(" plain ")
    assert int(count) > 10 and count == plain, result.stdout
    assert report["title"].endswith("True") and int(report["title"].split()[0]) < 260
    assert int(report["minimum"].split()[-1]) < 3000


@pytest.mark.parametrize("labels, expect", [
    (["x"] * 200_001, "names 200,001 classes; at most 100,000"),
    (["y" * 1_000_000] + ["z"] * 9, "class name of 1,000,000 characters"),
])
def test_label_bounds_are_checked_at_read_time(tmp_path, labels, expect):
    started = time.monotonic()
    one_line_refusal(cli("predict", DEFAULT.parent / "samples", "--model",
                         with_metadata(tmp_path / "m.onnx", labels=labels)), expect)
    assert time.monotonic() - started < 60


def test_metadata_size_is_bounded(tmp_path):
    path = with_metadata(tmp_path / "fat.onnx", notes="n" * (9 * 1024**2))
    with pytest.raises(ModelRejected, match="9 MiB of metadata is over the 8 MiB limit"):
        read_model(path)


def test_terminal_output_cannot_be_forged(tmp_path):
    labels = ["\x1b[2Jwiped", "line\nforged: Bag 100.0%"] + [f"c{i}" for i in range(8)]
    model = with_metadata(tmp_path / "escapes.onnx", labels=labels)
    image = tmp_path / "a\nb.png: Bag 100.0%.png"
    Image.new("L", (28, 28), 200).save(image)
    result = cli("predict", image, "--model", model, "--top-k", "10", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2  # the model line, and one line for the one image
    assert "\x1b" not in result.stdout and "\\x1b[2Jwiped" in lines[1] and "line\\nforged" in lines[1]
    assert not any(line.startswith("b.png") for line in lines)


def test_class_folder_names_follow_the_label_rules(tmp_path, monkeypatch):
    from resnet_studio.core import model_file
    from resnet_studio.models.folder import FolderError, load_folder_split

    # Linux caps a name at 255 bytes, under the 500-character label bound; a lower bound shows the wiring.
    monkeypatch.setattr(model_file, "MAX_LABEL_CHARS", 100)
    for name in ("ok", "n" * 200):
        (tmp_path / "data" / name).mkdir(parents=True)
    with pytest.raises(FolderError, match="class folder names has a class name of 200 characters"):
        load_folder_split(tmp_path / "data", 32, 0.2, 0)


# 2. Models that fail at run time ------------------------------------------------------------------------


def test_a_fixed_batch_of_one_runs_image_by_image(tmp_path, window_on, qtbot):
    model = save(third_party_classifier(size=32, classes=10, batch=1), tmp_path / "batch1.onnx")
    samples = sorted((DEFAULT.parent / "samples").glob("*.png"))[:3]
    result = cli("predict", *samples, "--model", model, "--json", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert [len(r["predictions"]) for r in json.loads(result.stdout)["results"]] == [5, 5, 5]
    window = window_on(model)
    drop(window, files(samples))
    qtbot.waitUntil(lambda: len(window.studio.entries) == 3 and all_done(window), timeout=TIMEOUT)
    assert all(e.result for e in window.studio.entries.values())


def test_a_graph_wider_than_it_declares_fails_with_a_reason_and_the_next_model_classifies(tmp_path, window_on,
                                                                                           qtbot):
    model = save(third_party_classifier(size=32, classes=10, real_classes=12), tmp_path / "wide.onnx")
    image = DEFAULT.parent / "samples" / "bag-test18.png"
    one_line_refusal(cli("predict", image, "--model", model, "--device", "cpu"), "declares 10 classes")
    window = window_on(model)
    drop(window, files([image, image]))
    qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    assert all("gave logits of shape [2, 12]" in e.error for e in window.studio.entries.values())
    assert not window.progress.isVisible()
    window.studio.load_model(str(DEFAULT))
    qtbot.waitUntil(lambda: window.studio.info.name == DEFAULT_MODEL and all(
        e.result for e in window.studio.entries.values()), timeout=TIMEOUT)


def _zero_classes(path):
    model = third_party_classifier(size=32, classes=10)
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 0
    return save(model, path)


@pytest.mark.parametrize("make, expect", [
    (lambda p: _zero_classes(p), "logits have 0 classes"),
    (lambda p: with_metadata(p, preprocess={"resize": 28, "crop": 28, "mean": [float("nan")], "std": [0.35],
                                            "color": "L"}), "not a finite number"),
    (lambda p: save(third_party_classifier(size=100_000), p), "input of 100000x100000 pixels"),
    (lambda p: save(endless_loop_classifier(), p), "holds control flow (Loop)"),
    (lambda p: save(third_party_classifier(size=32, classes=10, batch=4), p), "fixed batch of 4"),
], ids=["zero classes", "NaN preprocessing", "100,000 squared input", "endless Loop", "fixed batch of 4"])
def test_models_refused_at_load_with_a_reason(tmp_path, make, expect):
    model = make(tmp_path / "m.onnx")
    started = time.monotonic()
    one_line_refusal(cli("predict", DEFAULT.parent / "samples" / "bag-test18.png", "--model", model, timeout=60),
                     expect)
    assert time.monotonic() - started < 30


def test_runs_are_bounded_in_time_and_can_be_stopped():
    info = read_model(DEFAULT)
    batch = np.random.default_rng(0).random((512, 1, 28, 28), dtype=np.float32)
    pool = SessionPool("cpu")
    pool.get(info)
    pool.timeout_s = 0.001
    with pytest.raises(RunFailed, match="ran longer than 0 s and was stopped"):
        pool.run(info, batch, ["logits"])
    pool.timeout_s = 60
    failures = []

    def run():
        try:
            pool.run(info, np.concatenate([batch] * 8), ["logits"])
        except RunFailed as exc:
            failures.append(str(exc))

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 30
    while not pool._running and time.monotonic() < deadline:
        time.sleep(0.001)
    pool.terminate_all()
    worker.join(30)
    assert failures == [f"{DEFAULT_MODEL}: stopped"]
    assert pool.run(info, batch[:2], ["logits"])[1][0].shape == (2, 10)  # the pool goes on working


# 3. Catalog, settings and start-up ----------------------------------------------------------------------


def test_a_symlink_loop_in_the_models_folder(tmp_path, window_on):
    folder = tmp_path / "user-models"
    folder.mkdir()
    os.symlink(folder / "loop.onnx", folder / "loop.onnx")
    listed = cli("models", "--models-dir", folder)
    assert listed.returncode == 0 and "loop" in listed.stdout and "Traceback" not in listed.stderr
    assert cli("predict", DEFAULT.parent / "samples" / "bag-test18.png", "--models-dir", folder).returncode == 0
    window = window_on(None, models_dir=folder)
    assert window.studio.info is not None


def test_odd_settings_and_a_vanished_last_model_still_open_the_app(tmp_path, window_on, qtbot):
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


def test_a_user_file_named_like_a_shipped_model_wins_everywhere(tmp_path):
    folder = tmp_path / "user-models"
    folder.mkdir()
    shutil.copy(shipped_models_dir() / "resnext29-fashion-mnist.onnx", folder / f"{DEFAULT_MODEL}.onnx")
    catalog = Catalog(folder)
    assert catalog.resolve(DEFAULT_MODEL).path == folder / f"{DEFAULT_MODEL}.onnx"
    assert catalog.default().path == folder / f"{DEFAULT_MODEL}.onnx"
    result = cli("predict", DEFAULT.parent / "samples" / "bag-test18.png", "--models-dir", folder, "--json")
    assert json.loads(result.stdout)["model"]["variant"] == "resnext29_8x4d"


# 4. Images ----------------------------------------------------------------------------------------------


def test_a_jpeg_of_endless_scans_is_refused_before_decoding(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        tmp_path / "p.jpg", progressive=True)
    data = (tmp_path / "p.jpg").read_bytes()
    first = data.index(b"\xff\xda")
    second = data.index(b"\xff\xda", first + 2)
    (tmp_path / "scans.jpg").write_bytes(data[:second] + data[first:second] * 5000 + data[second:])
    started = time.monotonic()
    result = cli("predict", tmp_path / "scans.jpg", "--model", DEFAULT)
    assert result.returncode == 1 and "scans is over the 100 limit" in result.stdout
    assert time.monotonic() - started < 30


def test_a_16_bit_png_is_bounded_by_bytes(tmp_path):
    side = 9400
    Image.fromarray(np.tile(np.arange(side, dtype=np.uint16), (side, 1))).save(tmp_path / "deep.png")
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec, so a child would report pytest's own size.
    code = ("import re, sys\nfrom resnet_studio.core.intake import load_image\n"
            "image = load_image(sys.argv[1], 'L')\n"
            "peak = int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) // 1024\n"
            "print(image.size, peak)\n")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "deep.png")], capture_output=True,
                            text=True, timeout=120)
    size, peak_mb = result.stdout.rsplit(" ", 1)
    assert size == f"({side}, {side})" and int(peak_mb) < 1000, result.stdout + result.stderr


# 5. resnet-export and train arguments and inputs -------------------------------------------------------


def test_export_refuses_to_overwrite_its_weights(tmp_path):
    import torch

    from resnet_studio.models import build_model

    weights = tmp_path / "w.pth"
    torch.save(build_model("resnet20").state_dict(), weights)
    before = hashlib.sha256(weights.read_bytes()).hexdigest()
    result = export_cli("resnet20", "--weights", weights, "--output", tmp_path / "." / "w.pth")
    assert result.returncode == 2 and "is the --weights file" in result.stderr
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("args, expect", [
    (["--num-classes", "0"], "--num-classes: 0 is outside 1..100000"),
    (["--image-size", "0"], "--image-size: 0 is outside 16..4096"),
    (["--opset", "1"], "--opset: 1 is outside 18..25"),
    (["--num-classes", "ten"], "'ten' is not a whole number"),
])
def test_export_numbers_are_validated(tmp_path, args, expect):
    from resnet_studio.export.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["resnet20", *args, "--output", str(tmp_path / "x.onnx")])
    assert stop.value.code == 2 and not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--image-size", "0"], ["--val-fraction", "1"],
                                  ["--eval-every", "0"], ["--threads", "0"], ["--lr", "nan"]])
def test_train_numbers_are_validated(args, capsys):
    from resnet_studio.models.train import main

    with pytest.raises(SystemExit) as stop:
        main(["resnet20", *args])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "is outside" in err and len(err.strip().splitlines()) == 1


def test_the_exporter_never_writes_what_the_reader_refuses(tmp_path):
    from safetensors.torch import save_file

    from resnet_studio.models import build_model

    meta = {"variant": "resnet20", "labels": [str(i) for i in range(10)], "input_size": 28, "resize": 8,
            "mean": [0.5], "std": [0.5], "dataset": "x"}
    save_file({k: v.contiguous() for k, v in build_model("resnet20").state_dict().items()},
              str(tmp_path / "w.safetensors"), metadata={"resnet_studio": json.dumps(meta)})
    result = export_cli("resnet20", "--weights", tmp_path / "w.safetensors", "--output", tmp_path / "x.onnx")
    assert result.returncode == 1 and "resize 8 and crop 28" in result.stderr and "nothing was written" in result.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_a_stride_zero_view_is_refused_before_it_is_materialised(tmp_path):
    import torch

    from resnet_studio.models import build_model

    state = build_model("resnet20").state_dict()
    state["fc.weight"] = torch.zeros(1).expand(40_000, 80_000)  # 12.8 GB as a view of 4 bytes
    torch.save(state, tmp_path / "view.pth")
    assert (tmp_path / "view.pth").stat().st_size < 2_000_000
    result = export_cli("resnet20", "--weights", tmp_path / "view.pth", "--output", tmp_path / "x.onnx")
    assert result.returncode == 1 and "claims 12,800 MB from 0.0 MB of storage" in result.stderr


def test_a_dataset_file_is_read_only_as_far_as_its_header_promises(tmp_path):
    from resnet_studio.models.fashion_mnist import DatasetError, read_idx

    header = (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (100, 28, 28))
    with gzip.open(tmp_path / "long.gz", "wb", compresslevel=1) as f:
        f.write(header + bytes(100 * 784))
        f.write(bytes(64 * 1024**2))  # far more than promised
    with pytest.raises(DatasetError, match="holds more than 78,400 bytes"):
        read_idx(tmp_path / "long.gz", 2051)
    huge = (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (2**31, 28, 28))
    with gzip.open(tmp_path / "huge.gz", "wb") as f:
        f.write(huge)
    with pytest.raises(DatasetError, match="promises 1,683,627,180,032 bytes"):
        read_idx(tmp_path / "huge.gz", 2051)


# 6. The CUDA reason ---------------------------------------------------------------------------------------


def test_a_missing_driver_is_told_apart_from_missing_cuda_libraries(tmp_path):
    assert driver_problem(str(tmp_path / "no-such-libcuda.so.1")) == "no NVIDIA driver (libcuda.so.1 not found)"
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler:  # a stand-in driver whose cuInit answers "no device", as on a machine without a GPU
        (tmp_path / "fake.c").write_text("int cuInit(unsigned int flags) { return 100; }\n")
        subprocess.run([compiler, "-shared", "-fPIC", "-o", str(tmp_path / "libcuda.so.1"), str(tmp_path / "fake.c")],
                       check=True)
        assert "finds no GPU" in driver_problem(str(tmp_path / "libcuda.so.1"))
    both = cuda_reason("no NVIDIA driver (libcuda.so.1 not found)", None)
    assert "install or update the NVIDIA driver (pip cannot)" in both and "pip install" not in both.replace(
        "(pip cannot)", "")
    libraries = cuda_reason(None, "libcudnn.so.9")
    assert libraries == "CUDA libraries missing (libcudnn.so.9 failed to load); pip install 'resnet-studio[cuda]'"


def test_a_file_from_a_newer_version_says_so_and_accuracy_has_one_unit(tmp_path):
    from resnet_studio.export.api import export, prepare
    from resnet_studio.export.onnx_file import _set_metadata
    from resnet_studio.core.file_contract import FILE_SCHEMA

    path = tmp_path / "m.onnx"
    export(prepare("resnet20"), path)
    info = read_model(path)
    assert info.schema == FILE_SCHEMA
    _set_metadata(path, {"metrics": {"test_top1": 0.9}})
    assert read_model(path).accuracy == 0.9
    _set_metadata(path, {"metrics": {"test_top1": 90}})  # a percent is not a fraction: no figure rather than 90
    assert read_model(path).accuracy is None
    _set_metadata(path, {"schema": 1, "metrics": {"imagenet_top1": 76.13}})  # how schema 1 stored ImageNet's
    assert read_model(path).accuracy == pytest.approx(0.7613)
    _set_metadata(path, {"schema": FILE_SCHEMA + 1})
    with pytest.raises(ModelRejected, match=rf"newer ResNet Studio \(file schema {FILE_SCHEMA + 1}; this version "
                                            rf"reads up to {FILE_SCHEMA}\): update resnet-studio"):
        read_model(path)
