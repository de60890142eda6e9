"""``resnet-studio train`` under torchrun: DDP on gloo with two CPU processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from resnet_studio.models import train
from resnet_studio.models.checkpoint import load_checkpoint, safetensors_metadata
from resnet_studio.models.fashion_mnist import DEFAULT_DIR

BIN = Path(sys.executable).parent
TORCHRUN = [str(BIN / "torchrun"), "--standalone", "--nproc-per-node", "2"]
needs_data = pytest.mark.skipif(not DEFAULT_DIR.exists(), reason="dataset-fashion-mnist is not installed")


def run(command: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.mark.slow  # two gloo processes
def test_cross_process_batch_norm_gives_the_gradients_of_one_process():
    result = run(TORCHRUN + [str(Path(__file__).parents[1] / "support" / "ddp_gradients.py")])
    assert result.returncode == 0, result.stderr[-2000:]
    lines = sorted(line for line in result.stdout.splitlines() if line.startswith("rank "))
    assert [line.split()[1] for line in lines] == ["0", "1"]
    for line in lines:
        worst, running = float(line.split()[3]), float(line.split()[5])
        assert worst < 1e-9 and running < 1e-12, line


def history(out: Path) -> list[dict]:
    return safetensors_metadata(out / "model.safetensors")["metrics"]["history"]


@pytest.mark.slow
@needs_data
def test_two_processes_train_like_one_with_the_global_batch_and_resume_on_one(tmp_path):
    common = ["resnet20", "--subset", "512", "--threads", "1", "--sync-bn", "--quiet", "--warmup-epochs", "0"]
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    one = run([str(BIN / "resnet-studio"), "train", *common, "--batch-size", "64", "--lr", "0.02",
               "--epochs", "1", "--output", str(single)])
    assert one.returncode == 0, one.stderr[-2000:]
    # 2 x 32 images at 2 x 0.01: the global batch and the scaled rate of the single run.
    two = run(TORCHRUN + ["--no-python", str(BIN / "resnet-studio"), "train", *common, "--batch-size", "32",
                          "--lr", "0.01", "--epochs", "1", "--output", str(ddp)])
    assert two.returncode == 0, two.stderr[-2000:]
    assert sorted(p.name for p in ddp.iterdir()) == ["last.pt", "model.safetensors"]  # rank 0 alone wrote
    metrics = safetensors_metadata(ddp / "model.safetensors")["metrics"]
    assert metrics["processes"] == 2 and metrics["global_batch"] == 64
    assert two.stderr.count("test accuracy") == 1  # one log, from rank 0
    # The second epoch: both runs resume in one process, whatever they were trained on.
    for out in (single, ddp):
        resumed = run([str(BIN / "resnet-studio"), "train", *common, "--batch-size", "64", "--lr", "0.02",
                       "--epochs", "2", "--resume", "--output", str(out)])
        assert resumed.returncode == 0, resumed.stderr[-2000:]
    alone, shared = history(single), history(ddp)
    assert [row["epoch"] for row in shared] == [1, 2]
    # float32 rounding alone moves these by up to 0.2% and 0.5% (seeds 0-2); an unscaled learning rate
    # (2 x 32 images at 0.01) moves them by 2.4% and 3.1%.
    assert shared[0]["train_loss"] == pytest.approx(alone[0]["train_loss"], rel=0.01)
    assert shared[1]["train_loss"] == pytest.approx(alone[1]["train_loss"], rel=0.02)
    assert load_checkpoint(ddp / "last.pt")["epoch"] == 2


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def rank_of(pid: int) -> int | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    ranks = [int(item[5:]) for item in environ if item.startswith(b"RANK=")]
    return ranks[0] if ranks else None


@pytest.mark.slow  # two gloo processes, one killed
@needs_data
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the ranks through /proc")
def test_killing_one_rank_ends_the_job_within_seconds(tmp_path):
    out = tmp_path / "run"
    job = subprocess.Popen(TORCHRUN + ["--no-python", str(BIN / "resnet-studio"), "train", "resnet20", "--subset",
                                       "2048", "--threads", "1", "--epochs", "1000", "--output", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not (out / "last.pt").exists():  # both ranks are past their first epoch
            assert job.poll() is None and time.monotonic() < deadline, "the run did not start"
            time.sleep(0.2)
        ranks = {rank_of(pid): pid for pid in children(job.pid)}
        assert set(ranks) == {0, 1}
        os.kill(ranks[1], signal.SIGKILL)
        killed = time.monotonic()
        job.wait(timeout=30)
        assert time.monotonic() - killed < 10
        assert job.returncode != 0
        assert all(rank_of(pid) is None for pid in ranks.values())  # no rank outlives the job
    finally:
        if job.poll() is None:
            job.kill()
            job.wait()
        job.stderr.close()


def test_cuda_without_a_gpu_is_one_line(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert train.main(["resnet20", "--device", "cuda", "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "resnet-studio train: --device cuda: this PyTorch sees no usable CUDA device"
