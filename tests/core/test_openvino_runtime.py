"""OpenVINO, the second CPU runtime, behind the same SessionPool: the same classes, taps and CAM as ONNX
Runtime on the same files, its arithmetic said, and auto's choice explained."""

from __future__ import annotations

import numpy as np
import pytest
from foreign_files import torch_export
from PIL import Image
from resnet_studio.core import openvino_runtime
from resnet_studio.core.catalog import shipped_models_dir
from resnet_studio.core.engine import Engine
from resnet_studio.core.model_file import read_model
from resnet_studio.core.session import SessionPool
from resnet_studio.models import build_model
from runners import DEFAULT

# The int8 files: on the fp32 ones both runtimes agree with fp32 on every image (measured; see below).
SHIPPED = sorted(shipped_models_dir().glob("*-int8.onnx"))


def engines(exact: bool = False) -> tuple[Engine, Engine]:
    """ORT and OpenVINO; OpenVINO in bf16 where the CPU offers it, unless ``exact``."""
    return (Engine(SessionPool("cpu", runtime="onnxruntime")),
            Engine(SessionPool("cpu", runtime="openvino", exact=exact)))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_openvino_is_as_faithful_to_fp32_as_onnx_runtime_on_the_shipped_models(path):
    """Top-1 on 1,000 Fashion-MNIST test images against ONNX Runtime on the fp32 file: at least 99.5% the same
    (in bf16 where the CPU offers it), or no less than ONNX Runtime's own agreement on the same file.

    Measured here on 2,000 images: OpenVINO on the int8 files agrees with fp32 on 99.5-99.9%, ONNX Runtime
    on 94.1-99.6% (its U8S8 convolutions round differently); on the fp32 files both agree 100%."""
    from resnet_studio.export.scoring import fashion_mnist_samples

    info, reference = read_model(path), read_model(path.with_name(path.name.replace("-int8", "")))
    samples = fashion_mnist_samples(info.preprocess, 1000)
    ort_engine, openvino_engine = engines()
    names = [str(i) for i in range(len(samples))]

    def top1(engine, model):
        return np.array([r.predictions[0].index for r in engine.classify_arrays(model, samples, names, k=1)])

    fp32 = top1(ort_engine, reference)
    on_ort, on_openvino = (top1(engine, info) == fp32 for engine in (ort_engine, openvino_engine))
    assert openvino_engine.pool.get(info).provider == "OpenVINO"
    assert on_openvino.mean() >= min(0.995, on_ort.mean())


def test_taps_and_the_cam_run_on_openvino_too(tmp_path):
    """Our file's taps, and a foreign file's taps added in memory, give what ONNX Runtime gives."""
    foreign = torch_export(build_model("resnet18", num_classes=10), tmp_path / "r18.onnx", 64, dynamo=False)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (70, 90, 3), dtype=np.uint8))
    for path, block in ((DEFAULT, "layer2.0"), (foreign, "layer3.0")):
        info = read_model(path)
        picture = image.convert(info.preprocess.decode_mode)
        parts = [engine.block_parts(info, picture, block, 4) for engine in engines(exact=True)]
        for role in ("branch", "shortcut", "output"):
            np.testing.assert_allclose(getattr(parts[0], role), getattr(parts[1], role), atol=2e-3, rtol=1e-3)
        cams = [engine.cam(info, picture) for engine in engines(exact=True)]
        assert cams[0].class_index == cams[1].class_index
        np.testing.assert_allclose(cams[0].heat, cams[1].heat, atol=2e-3)


def test_what_runs_is_said_and_auto_explains_its_choice():
    info = read_model(DEFAULT)
    handle = SessionPool("cpu", runtime="openvino").get(info)
    assert handle.label.startswith("CPU · OpenVINO") and handle.runtime_note == "OpenVINO requested"
    assert SessionPool("cpu", runtime="onnxruntime").get(info).label == "CPU · ONNX Runtime"
    exact = SessionPool("cpu", runtime="openvino", exact=True).get(info)
    assert exact.session.arithmetic == "f32" and exact.label == "CPU · OpenVINO"
    chosen, reason = openvino_runtime.choose("auto")
    fast = set(openvino_runtime.FAST_FLAGS) & openvino_runtime.cpu_flags()
    assert chosen == ("openvino" if fast else "onnxruntime") and reason
    with pytest.raises(ValueError, match="unknown runtime"):
        openvino_runtime.choose("tensorflow")
