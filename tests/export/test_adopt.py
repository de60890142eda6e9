"""`resnet-export adopt`: another tool's file made self-describing, checked against the original."""

from __future__ import annotations

import json

import numpy as np
import pytest
from foreign_files import keras_tutorial_resnet, quantized, torch_export
from PIL import Image
from resnet_studio.core.engine import Engine
from resnet_studio.core.model_file import read_model
from resnet_studio.core.session import SessionPool
from resnet_studio.models import build_model
from runners import DEFAULT, export_cli, one_line_refusal


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adopt")
    r18 = torch_export(build_model("resnet18", num_classes=10), folder / "r18.onnx", 64, dynamo=False)
    return {"keras": keras_tutorial_resnet(folder / "keras.onnx", 64), "int8": quantized(r18, folder / "q.onnx", True, 64)}


@pytest.mark.parametrize("kind", ["keras", "int8"])
def test_an_adopted_copy_describes_itself_and_runs_as_the_original(sources, tmp_path, kind):
    source = sources[kind]
    labels = tmp_path / "names.txt"
    classes = read_model(source).num_classes
    labels.write_text("\n".join(f"thing {i}" for i in range(classes)))
    target = tmp_path / "adopted.onnx"
    result = export_cli("adopt", source, "--output", target, "--labels", labels, "--preprocess", "timm", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["largest_difference"] <= 1e-5
    before, after = read_model(source, preset="timm"), read_model(target)
    assert after.has_metadata and after.discovery is None and after.labels[0] == "thing 0"
    assert after.architecture.source == "found" and after.taps.blocks() == before.taps.blocks()
    assert after.taps.in_file and after.input.layout == before.input.layout and after.output.kind == before.output.kind
    assert after.preprocess.interpolation == "bicubic" and after.meta.weights.sha256 == before.identity.sha256
    engine = Engine(SessionPool("cpu"))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 70, 3), dtype=np.uint8))
    for block in (after.taps.blocks()[0], after.taps.blocks()[-1]):
        np.testing.assert_allclose(engine.block_parts(after, image, block, 4).output,
                                   engine.block_parts(before, image, block, 4).output, atol=1e-5)
    np.testing.assert_allclose(engine.cam(after, image).heat, engine.cam(before, image).heat, atol=1e-5)


def test_adopting_a_file_that_describes_itself_or_onto_a_device_is_refused(sources, tmp_path):
    result = export_cli("adopt", DEFAULT, "--output", tmp_path / "again.onnx")
    assert result.returncode == 1 and "describes itself already" in result.stderr and "Traceback" not in result.stderr
    one_line_refusal(export_cli("adopt", sources["keras"], "--output", tmp_path / "x.onnx", "--preprocess", "{"),
                     "not valid JSON")
    refused = export_cli("adopt", sources["keras"], "--output", "/dev/null")
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
