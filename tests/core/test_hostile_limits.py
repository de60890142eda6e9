"""Bounds on what files and runs may cost: metadata, run time, decoded bytes, dataset files; the CUDA reason."""

import gzip
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image
from resnet_studio.core.catalog import DEFAULT_MODEL
from resnet_studio.core.model_file import ModelRejected, read_model
from resnet_studio.core.session import (
    RunFailed,
    SessionPool,
    cuda_reason,
    driver_problem,
)
from runners import DEFAULT, with_metadata


def test_metadata_size_is_bounded(tmp_path):
    path = with_metadata(tmp_path / "fat.onnx", notes="n" * (9 * 1024**2))
    with pytest.raises(ModelRejected, match="9 MiB of metadata is over the 8 MiB limit"):
        read_model(path)


def test_class_folder_names_follow_the_label_rules(tmp_path, monkeypatch):
    from resnet_studio.core import model_file
    from resnet_studio.models.folder import FolderError, load_folder_split

    # Linux caps a name at 255 bytes, under the 500-character label bound; a lower bound shows the wiring.
    monkeypatch.setattr(model_file, "MAX_LABEL_CHARS", 100)
    for name in ("ok", "n" * 200):
        (tmp_path / "data" / name).mkdir(parents=True)
    with pytest.raises(FolderError, match="class folder names has a class name of 200 characters"):
        load_folder_split(tmp_path / "data", 32, 0.2, 0)


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_runs_are_bounded_in_time_and_can_be_stopped(runtime):
    info = read_model(DEFAULT)
    batch = np.random.default_rng(0).random((512, 1, 28, 28), dtype=np.float32)
    pool = SessionPool("cpu", runtime=runtime)
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

