"""Hostile model files, labels and arguments through predict, resnet-export and train: one line each, nothing forged."""

import hashlib
import json
import shutil
import time

import numpy as np
import pytest
from onnx_builders import endless_loop_classifier, save, third_party_classifier
from PIL import Image
from resnet_studio.core.catalog import DEFAULT_MODEL, Catalog, shipped_models_dir
from resnet_studio.core.model_file import ModelRejected, read_model
from runners import DEFAULT, cli, export_cli, one_line_refusal, with_metadata


@pytest.mark.parametrize("labels, expect", [
    (["x"] * 200_001, "names 200,001 classes; at most 100,000"),
    (["y" * 1_000_000] + ["z"] * 9, "class name of 1,000,000 characters"),
])
def test_label_bounds_are_checked_at_read_time(tmp_path, labels, expect):
    started = time.monotonic()
    one_line_refusal(cli("predict", DEFAULT.parent / "samples", "--model",
                         with_metadata(tmp_path / "m.onnx", labels=labels)), expect)
    assert time.monotonic() - started < 60


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


def test_a_user_file_named_like_a_shipped_model_wins_everywhere(tmp_path):
    folder = tmp_path / "user-models"
    folder.mkdir()
    shutil.copy(shipped_models_dir() / "resnext29-fashion-mnist.onnx", folder / f"{DEFAULT_MODEL}.onnx")
    catalog = Catalog(folder)
    assert catalog.resolve(DEFAULT_MODEL).path == folder / f"{DEFAULT_MODEL}.onnx"
    assert catalog.default().path == folder / f"{DEFAULT_MODEL}.onnx"
    result = cli("predict", DEFAULT.parent / "samples" / "bag-test18.png", "--models-dir", folder, "--json")
    assert json.loads(result.stdout)["model"]["variant"] == "resnext29_8x4d"


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


def test_the_exporter_never_writes_what_the_reader_refuses(tmp_path):
    from resnet_studio.models import build_model
    from safetensors.torch import save_file

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


def test_a_file_from_a_newer_version_says_so_and_accuracy_has_one_unit(tmp_path):
    from resnet_studio.core.file_contract import FILE_SCHEMA
    from resnet_studio.export.api import export, prepare
    from resnet_studio.export.onnx_file import _set_metadata

    path = tmp_path / "m.onnx"
    export(prepare("resnet20"), path)
    info = read_model(path)
    assert info.meta.schema == FILE_SCHEMA
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

