"""Training faults: a full disk during a checkpoint keeps the last good one; Cancel stops a child whatever it inherited."""

import resource
import signal
import subprocess
import sys

import pytest
from resnet_studio.models.fashion_mnist import DEFAULT_DIR


@pytest.mark.slow  # 20 s of training
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



def test_the_apps_cancel_stops_a_child_that_inherited_sigint_ignored(tmp_path):
    """An app started with `&` from a script passes SIGINT ignored to its children; the app cancels with it."""
    import json
    import time

    from training_data import texture_folder

    data = texture_folder(tmp_path / "textures", per_class=10)
    child = subprocess.Popen([sys.executable, "-m", "resnet_studio.gui.cli.main", "train", "resnet20", "--data", str(data),
                              "--image-size", "16", "--epochs", "500", "--threads", "1", "--output", str(tmp_path / "run"),
                              "--progress-json"], stdout=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        for line in child.stdout:
            if json.loads(line)["stage"] == "epoch":
                break
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        events = [json.loads(line) for line in child.stdout]
        assert child.wait(timeout=60) == 130 and time.monotonic() - sent < 30
    finally:
        child.kill()
    assert events[-1]["stage"] == "cancelled" and events[-1]["epoch"] >= 1
