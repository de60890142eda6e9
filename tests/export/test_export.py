"""resnet-export: every variant exported, verified and self-describing; fp16, int8 and the error paths."""

import json
import os
import re
import stat

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from resnet_studio.export.api import ExportError, Prepared, export, prepare
from resnet_studio.export.cli import main as export_main
from resnet_studio.models import VARIANTS, build_model
from resnet_studio.models.fashion_mnist import DEFAULT_DIR

# One of each block kind by default (BasicBlock, plain, grouped Bottleneck, the ImageNet stem); every other
# variant under the slow marker, and the ImageNet ones at 224 in test_export_every_imagenet_variant_at_224.
FAST = ("resnet18", "resnet20", "plain20", "resnext29_8x4d")
REPRESENTATIVE = [name if name in FAST else pytest.param(name, marks=pytest.mark.slow)
                  for name in ["resnet18", "resnet50", "resnext50_32x4d"]
                  + [n for n, v in VARIANTS.items() if v.family == "small"]]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    cache = {}

    def get(name):
        if name not in cache:
            report = export(prepare(name, image_size=64 if VARIANTS[name].family == "imagenet" else None),
                            folder / f"{name}.onnx")
            cache[name] = (folder / f"{name}.onnx", report)
        return cache[name]

    return get


def props(path):
    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_export_verifies_and_describes_itself(exported, name):
    path, report = exported(name)
    assert report.verified and np.isfinite(report.max_abs_diff)
    onnx.checker.check_model(str(path), full_check=True)
    meta = props(path)
    variant = VARIANTS[name]
    labels = json.loads(meta["labels"])
    assert len(labels) == variant.num_classes
    pre = json.loads(meta["preprocess"])
    assert set(pre) == {"resize", "crop", "interpolation", "mean", "std", "color", "resize_mode"}
    assert pre["color"] == ("L" if variant.in_channels == 1 else "RGB")
    assert len(pre["mean"]) == len(pre["std"]) == variant.in_channels
    arch = json.loads(meta["architecture"])
    assert [len(s["blocks"]) for s in arch["stages"]] == list(variant.layers)
    assert json.loads(meta["params"]) == variant.params()
    assert json.loads(meta["macs"]) == variant.macs(pre["crop"])
    assert json.loads(meta["weights"])["source"] == "random"
    assert meta["variant"] == name
    assert json.loads(meta["producer"])["name"] == "resnet-studio"


@pytest.mark.parametrize("name", ["resnet18", pytest.param("resnext50_32x4d", marks=pytest.mark.slow), "resnet20"])
def test_dynamic_batch_and_activation_shapes(exported, name):
    path, _ = exported(name)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    meta = props(path)
    arch = json.loads(meta["architecture"])
    c, h, w = arch["input_shape"]
    x = np.random.default_rng(0).standard_normal((5, c, h, w), dtype=np.float32)
    names = [o.name for o in session.get_outputs()]
    results = dict(zip(names, session.run(None, {"input": x})))
    assert results["logits"].shape == (5, VARIANTS[name].num_classes)
    assert results["act.stem"].shape == (5, *arch["stem"]["output_shape"])
    for stage in arch["stages"]:
        for block in stage["blocks"]:
            assert results[f"act.{block['name']}"].shape == (5, *block["output_shape"])
    assert results["features"].shape == (5, arch["stages"][-1]["output_shape"][0])
    # The activation outputs are block outputs after the addition and ReLU.
    assert all(results[f"act.{b['name']}"].min() >= 0 for s in arch["stages"] for b in s["blocks"])


def test_fc_weights_are_readable_for_cam(exported):
    path, _ = exported("resnet18")
    model = onnx.load(str(path))
    initializers = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    meta = json.loads(props(path)["activations"])
    weight = initializers[meta["fc_weight"]]
    assert weight.shape == (1000, 512)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((2, 3, 64, 64), dtype=np.float32)
    logits, features = session.run(["logits", "features"], {"input": x})
    np.testing.assert_allclose(features @ weight.T + initializers[meta["fc_bias"]], logits, rtol=1e-4, atol=1e-4)
    assert meta["cam_layer"] == "act.layer4.1"
    assert {"block": "layer4.1", "role": "input", "tensor": "act.layer4.0"} in meta["taps"]


def test_no_activations_exports_logits_alone(tmp_path):
    report = export(prepare("resnet20"), tmp_path / "plain.onnx", activations=False)
    model = onnx.load(str(tmp_path / "plain.onnx"))
    assert [o.name for o in model.graph.output] == ["logits"]
    assert json.loads(props(tmp_path / "plain.onnx")["activations"])["taps"] == []
    assert report.verified


class NoisyLinear(torch.nn.Linear):
    """Exports fine, but ORT's random numbers are not PyTorch's: verification must catch it."""

    def forward(self, x):
        return super().forward(x) + torch.rand(x.shape[0], self.out_features) * 10


def _unverifiable(tmp_path) -> Prepared:
    prepared = prepare("resnet20")
    noisy = NoisyLinear(64, 10)
    noisy.load_state_dict(prepared.model.fc.state_dict())
    prepared.model.fc = noisy
    return prepared


def test_failed_verification_leaves_nothing_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "model.onnx"
    with pytest.raises(ExportError, match="verification failed"):
        export(_unverifiable(tmp_path), target)
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"previous good file")
    with pytest.raises(ExportError):
        export(_unverifiable(tmp_path), target)
    assert target.read_bytes() == b"previous good file"
    assert list(tmp_path.iterdir()) == [target]


def test_fp16_keeps_float32_io_and_reports_agreement(tmp_path):
    report = export(prepare("resnet18", image_size=64), tmp_path / "half.onnx", precision="fp16")
    session = ort.InferenceSession(str(tmp_path / "half.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(float)"
    assert session.get_outputs()[0].type == "tensor(float)"
    assert report.agreement is not None and 0 <= report.agreement <= 1
    assert report.agreement_sample == "synthetic noise"
    metrics = json.loads(props(tmp_path / "half.onnx")["metrics"])
    assert metrics["fp16_top1_agreement_with_fp32"] == report.agreement
    assert props(tmp_path / "half.onnx")["precision"] == "fp16"


@pytest.mark.skipif(not DEFAULT_DIR.exists(), reason="dataset-fashion-mnist is not installed")
def test_int8_is_qdq_with_calibration_and_keeps_fc_float(tmp_path):
    assert export_main(["resnet20", "--precision", "int8", "--output", str(tmp_path / "q.onnx"), "--quiet"]) == 0
    model = onnx.load(str(tmp_path / "q.onnx"))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    weights = {i.name: i for i in model.graph.initializer}
    assert weights["fc.weight"].data_type == onnx.TensorProto.FLOAT
    assert any(i.data_type == onnx.TensorProto.INT8 for i in model.graph.initializer)
    metrics = json.loads(props(tmp_path / "q.onnx")["metrics"])
    assert metrics["agreement_images"] == 512
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "q.onnx").stat().st_mode) == 0o666 & ~umask  # not mkstemp's private 0600
    assert props(tmp_path / "q.onnx")["precision"] == "int8"


def test_int8_needs_calibration_for_imagenet_models(tmp_path, capsys):
    assert export_main(["resnet18", "--precision", "int8", "--output", str(tmp_path / "q.onnx")]) == 1
    err = capsys.readouterr().err
    assert "int8 needs calibration images: pass --calibration DIR" in err
    assert "Traceback" not in err and not (tmp_path / "q.onnx").exists()


def test_cli_error_paths(tmp_path, capsys):
    assert export_main(["resnet5O"]) == 1
    assert re.search(r"did you mean .*resnet50", capsys.readouterr().err)
    assert export_main(["resnet20", "--output", str(tmp_path / "missing" / "x.onnx")]) == 1
    assert "does not exist" in capsys.readouterr().err
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if not __import__("os").access(locked, __import__("os").W_OK):  # root can write anywhere
        assert export_main(["resnet20", "--output", str(locked / "x.onnx")]) == 1
        assert "not writable" in capsys.readouterr().err
    wrong = tmp_path / "wrong.pth"
    torch.save(build_model("resnet18").state_dict(), wrong)
    assert export_main(["resnet34", "--weights", str(wrong), "--output", str(tmp_path / "y.onnx")]) == 1
    err = capsys.readouterr().err
    assert "missing: layer1.2.bn1.bias" in err and "Traceback" not in err
    assert export_main(["resnet20", "--weights", "imagenet"]) == 1
    assert "no ImageNet checkpoint" in capsys.readouterr().err
    assert export_main([]) == 2


def test_trained_file_metadata_round_trip(tmp_path):
    from resnet_studio.models.checkpoint import save_safetensors

    model = build_model("resnet20", num_classes=3, in_channels=3)
    meta = {"variant": "resnet20", "labels": ["cat", "dog", "fox"], "dataset": "pets", "input_size": 32,
            "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "metrics": {"validation_top1": 0.9}}
    save_safetensors(model.state_dict(), meta, tmp_path / "pets.safetensors")
    out = tmp_path / "pets.onnx"
    assert export_main(["resnet20", "--weights", str(tmp_path / "pets.safetensors"), "--output", str(out),
                        "--quiet"]) == 0
    p = props(out)
    assert json.loads(p["labels"]) == ["cat", "dog", "fox"]
    assert json.loads(p["preprocess"])["crop"] == 32 and json.loads(p["preprocess"])["color"] == "RGB"
    metrics = json.loads(p["metrics"])
    assert metrics["validation_top1"] == 0.9 and set(metrics) == {"validation_top1", "verification"}
    assert metrics["verification"]["relative"] <= 1e-4
    weights = json.loads(p["weights"])
    assert weights["source"] == "trained" and weights["file"] == "pets.safetensors" and len(weights["sha256"]) == 64


def test_list_json_reads_the_registry(capsys):
    assert export_main(["--list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["variant"] for r in rows] == list(VARIANTS)
    r50 = next(r for r in rows if r["variant"] == "resnet50")
    assert r50["params"] == 25_557_032 and r50["gmacs"] == 4.089 and "imagenet-v2" in r50["weights"]


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n, v in VARIANTS.items() if v.family == "imagenet"])
def test_export_every_imagenet_variant_at_224(tmp_path, name):
    report = export(prepare(name), tmp_path / f"{name}.onnx")
    assert report.verified and report.opset >= 17
