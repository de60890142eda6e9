"""Faults: files that vanish, writes that cannot finish, processes killed midway."""

import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from resnet_studio.core.engine import Engine
from resnet_studio.core.model_file import read_model
from resnet_studio.core.session import ProviderError, SessionPool
from resnet_studio.models.fashion_mnist import DEFAULT_DIR


@pytest.fixture(scope="module")
def small_onnx(tmp_path_factory):
    from resnet_studio.export.api import export, prepare

    path = tmp_path_factory.mktemp("m") / "resnet20.onnx"
    export(prepare("resnet20"), path)
    return path


def test_a_model_deleted_while_loaded_keeps_working(small_onnx, tmp_path):
    model = tmp_path / "doomed.onnx"
    model.write_bytes(small_onnx.read_bytes())
    Image.new("L", (28, 28), 128).save(tmp_path / "x.png")
    info = read_model(model)
    engine = Engine(SessionPool("cpu"))
    (before,) = engine.classify_files(info, [tmp_path / "x.png"])
    model.unlink()
    (after,) = engine.classify_files(info, [tmp_path / "x.png"])
    assert after.ok and after.predictions[0].index == before.predictions[0].index
    with pytest.raises(ProviderError, match="the model file is gone"):
        Engine(SessionPool("cpu")).classify_arrays(info, np.zeros((1, 1, 28, 28), np.float32), ["x"])


def _export_command(output) -> list[str]:
    return [sys.executable, "-m", "resnet_studio.export.cli", "resnet50", "--output", str(output), "--quiet"]


def test_a_full_disk_during_export_keeps_the_previous_file(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"the previous good file")

    def small_disk():
        # As a full disk: writes past 20 MB fail with EFBIG instead of killing the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20 * 1024**2, 20 * 1024**2))

    result = subprocess.run(_export_command(target), capture_output=True, text=True, timeout=600,
                            preexec_fn=small_disk)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "too large" in result.stderr.lower() or "no space" in result.stderr.lower(), result.stderr
    assert target.read_bytes() == b"the previous good file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_an_export_killed_midway_leaves_nothing_at_the_output(tmp_path):
    target = tmp_path / "model.onnx"
    process = subprocess.Popen(_export_command(target), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill it once the exporter has started writing its temp file.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    process.kill()
    process.wait()
    assert not target.exists()


@pytest.mark.skipif(not DEFAULT_DIR.exists(), reason="dataset-fashion-mnist is not installed")
def test_a_full_disk_during_a_training_checkpoint_keeps_the_last_good_one(tmp_path):
    from resnet_studio.models.checkpoint import load_checkpoint

    out = tmp_path / "run"
    base = [sys.executable, "-m", "resnet_studio.models.train", "resnet20", "--output", str(out), "--subset", "256",
            "--batch-size", "128", "--threads", "1", "--quiet"]
    assert subprocess.run(base + ["--epochs", "1"], capture_output=True, timeout=300).returncode == 0
    good = (out / "last.pt").read_bytes()

    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = subprocess.run(base + ["--epochs", "2", "--resume"], capture_output=True, text=True, timeout=300,
                            preexec_fn=small_disk)
    assert result.returncode == 2 and "the disk may be full" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert (out / "last.pt").read_bytes() == good and load_checkpoint(out / "last.pt")["epoch"] == 1
