"""`predict` and `models` on a ResNet file another tool wrote: what was found, and --preprocess."""

from __future__ import annotations

import json

import pytest
from foreign_files import keras_tutorial_resnet, torch_export
from resnet_studio.models import build_model
from runners import DEFAULT, SAMPLES, cli, one_line_refusal


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    return keras_tutorial_resnet(tmp_path_factory.mktemp("keras") / "tutorial.onnx", 64)


def test_predict_says_what_it_found_and_takes_a_preset(keras_file):
    sample = sorted(SAMPLES.glob("*.png"))[0]
    result = cli("predict", "--model", keras_file, sample, "--device", "cpu")
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0]
    assert "found: 3 blocks, 2 stages" in header and "Keras layout (NHWC)" in header
    assert "preset: keras-caffe (guessed)" in header
    chosen = cli("predict", "--model", keras_file, sample, "--device", "cpu", "--preprocess", "keras-tf", "--json")
    assert chosen.returncode == 0, chosen.stderr
    report = json.loads(chosen.stdout)
    assert report["model"]["found"]["preset"] == "keras-tf" and not report["model"]["found"]["preset_guessed"]
    assert report["model"]["found"]["output"].startswith("probabilities")
    probabilities = [p["probability"] for p in report["results"][0]["predictions"]]
    assert sum(probabilities) == pytest.approx(1, abs=1e-6)


def test_models_json_names_the_resnet_it_found(tmp_path):
    path = torch_export(build_model("resnet50", num_classes=4), tmp_path / "r50.onnx", 64, dynamo=False)
    result = cli("models", path, "--models-dir", tmp_path / "none", "--json")
    assert result.returncode == 0, result.stderr
    row = next(r for r in json.loads(result.stdout) if r["path"] == str(path))
    assert row["found"]["family"] == "ResNet-50" and row["found"]["blocks"] == 16
    assert row["activations"] and row["cam"] and not row["metadata"]
    assert row["title"].startswith("r50 — ResNet-50, fp32 · found: 16 blocks, 4 stages")


def test_a_preset_for_a_file_that_states_its_preprocessing_is_refused():
    one_line_refusal(cli("predict", "--model", DEFAULT, sorted(SAMPLES.glob("*.png"))[0], "--preprocess", "timm"),
                     "states its own preprocessing")


def test_a_custom_preprocessing_and_a_labels_file_on_the_command_line(keras_file, tmp_path):
    sample = sorted(SAMPLES.glob("*.png"))[0]
    labels = tmp_path / "pets.txt"
    labels.write_text("cat\ndog\n")
    custom = '{"resize": 64, "crop": 64, "mean": [0, 0, 0], "std": [1, 1, 1], "resize_mode": "squash"}'
    result = cli("predict", "--model", keras_file, sample, "--preprocess", custom, "--labels", labels, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"]["found"]["preset"] == "custom" and report["model"]["found"]["labels_from"] == "pets.txt"
    assert {p["label"] for p in report["results"][0]["predictions"]} == {"cat", "dog"}
    one_line_refusal(cli("predict", "--model", keras_file, sample, "--preprocess", '{"crop": 64}'), "incomplete")
    labels.write_text("cat\n")
    one_line_refusal(cli("predict", "--model", keras_file, sample, "--labels", labels), "does not hold 2 class names")
