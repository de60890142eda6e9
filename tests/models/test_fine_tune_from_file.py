"""Fine-tuning from a model file of ours (the shipped Fashion-MNIST weights), and what ``train --progress-json``
tells the app: the recipe it chose, each epoch, the export, and the held-out images by file."""

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from resnet_studio.core.catalog import shipped_models_dir
from resnet_studio.core.model_file import read_model
from resnet_studio.gui.cli.main import main as studio_main
from resnet_studio.models import build_model
from resnet_studio.models.onnx_weights import load_onnx_base

from training_data import texture_folder

SHIPPED = shipped_models_dir() / "resnet20-fashion-mnist.onnx"


def _features(model, x):
    h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    for stage in model.stages():
        h = stage(h)
    return torch.flatten(model.avgpool(h), 1)


def test_unfolded_weights_compute_what_the_file_computes_in_both_modes():
    x = torch.randn(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    model = build_model("resnet20", num_classes=3, in_channels=1)
    load_onnx_base(model, SHIPPED, "resnet20", x)
    model.eval()
    session = ort.InferenceSession(str(SHIPPED), providers=["CPUExecutionProvider"])
    expected = session.run(["features"], {"input": x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(_features(model, x).numpy() - expected).max() < 1e-4
        # In train mode a BN normalises by the batch's statistics: on the batch it was unfolded on, the same.
        model.train()
        assert np.abs(_features(model, x).numpy() - expected).max() < 1e-3


@pytest.mark.parametrize("weights, variant, reason", [
    ("resnet20-fashion-mnist-int8.onnx", "resnet20", "is the int8 twin; start from the fp32 file"),
    ("resnet20-fashion-mnist.onnx", "resnet56", "holds a resnet20, not a resnet56"),
])
def test_a_base_file_that_does_not_fit_is_refused_in_one_line(tmp_path, capsys, weights, variant, reason):
    data = texture_folder(tmp_path / "textures", per_class=3)
    code = studio_main(["train", variant, "--data", str(data), "--weights", str(shipped_models_dir() / weights),
                        "--epochs", "1", "--output", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and reason in err and len(err.strip().splitlines()) == 1


def test_progress_json_from_a_shipped_base(tmp_path, capsys):
    data = texture_folder(tmp_path / "textures", per_class=10)
    export = tmp_path / "out" / "textures.onnx"
    export.parent.mkdir()
    # No variant named: the base file's is used.
    code = studio_main(["train", "--data", str(data), "--weights", str(SHIPPED), "--epochs", "2",
                        "--output", str(tmp_path / "run"), "--export", str(export), "--progress-json"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert code == 0
    start = events[0]
    # The file's greyscale 28 px input, the batch scaled to 16 training images, the fine-tuning rate.
    assert start["stage"] == "start" and start["variant"] == "resnet20" and start["variant_chosen"]
    assert start["image_size"] == 28 and start["batch_chosen"]
    assert start["batch_size"] == 4 and start["steps_per_epoch"] == 4 and start["lr"] == 0.01 and start["lr_chosen"]
    epochs = [e for e in events if e["stage"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2] and all(len(e["responses"]) == 9 for e in epochs)
    assert all(0 <= e["val_acc"] <= 1 and e["held_out_images"] == 4 for e in epochs)
    stages = [e["stage"] for e in events]
    assert stages.index("export") < stages.index("done") == len(stages) - 1
    report = events[-1]["report"]
    held_out = report["held_out"]
    assert len(held_out) == 4 and sorted(c for _, c in held_out) == [0, 0, 1, 1]
    assert all(path.startswith(str(data / report["labels"][c])) for path, c in held_out)
    info = read_model(export)
    assert info.input.channels == 1 and info.labels == ["dots", "stripes"]
    assert "resnet20-fashion-mnist.onnx" in json.dumps(info.meta.weights.to_json())


def test_random_weights_on_small_batches_get_a_smaller_rate(tmp_path, capsys):
    data = texture_folder(tmp_path / "textures", per_class=10)
    code = studio_main(["train", "resnet20", "--data", str(data), "--epochs", "1", "--image-size", "32",
                        "--output", str(tmp_path / "run"), "--progress-json"])
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    start, epoch = events[0], next(e for e in events if e["stage"] == "epoch")
    # 16 training images: batches of 4, and the from-scratch 0.1 scaled by 4/16.
    assert code == 0 and start["batch_size"] == 4 and start["lr"] == pytest.approx(0.025) and start["lr_chosen"]
    assert np.isfinite(epoch["train_loss"])


@pytest.mark.parametrize("words, variant", [
    (["--data", "photos"], "resnet18"),
    ([], "resnet20"),
    (["--data", "photos", "--weights", str(shipped_models_dir() / "resnext29-fashion-mnist.onnx")], "resnext29_8x4d"),
])
def test_the_variant_when_none_is_named(words, variant):
    from resnet_studio.models.train_options import default_variant, parser

    assert default_variant(parser().parse_args(words))[0] == variant


def test_a_usage_error_under_progress_json_is_the_error_event_the_app_reads(tmp_path, capsys):
    data = texture_folder(tmp_path / "textures", per_class=3)
    with pytest.raises(SystemExit) as exit_:
        studio_main(["train", "--data", str(data), "--epochs", "zero", "--progress-json"])
    (line,) = capsys.readouterr().out.splitlines()
    event = json.loads(line)
    assert exit_.value.code == 2 and event["stage"] == "error" and "--epochs" in event["message"]


def test_the_panel_offers_every_augmentation_the_command_takes():
    from resnet_studio.gui.qt.widgets.train_panel import AUGMENTATION_TITLES
    from resnet_studio.models.train_options import AUGMENTATIONS

    assert tuple(AUGMENTATION_TITLES) == AUGMENTATIONS
