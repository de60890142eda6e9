"""train's inputs that lie: a last.pt that does not fit, a split that leaves nothing to train on, a class
folder that links out of --data, class names that would forge lines, and folders a thousand levels deep."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_studio.models.train import main as train_main
from runners import deep_folder, remove_deep

BASE = ["resnet20", "--image-size", "16", "--epochs", "1", "--threads", "2"]


def picture_folder(root, classes=("disc", "square"), per_class=6):
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            colour = np.array([200, 40, 40] if k == 0 else [40, 40, 200])
            Image.fromarray(np.clip(colour + rng.integers(-30, 30, (20, 20, 3)), 0, 255).astype(np.uint8)).save(
                folder / f"{i}.png")
    return root


def train(capsys, *args) -> tuple[int, str]:
    code = train_main([*BASE, *map(str, args)])
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    data = picture_folder(root / "data")
    assert train_main([*BASE, "--data", str(data), "--output", str(root / "run"), "--quiet"]) == 0
    return data, root / "run" / "last.pt", torch.load(root / "run" / "last.pt", weights_only=True)


@pytest.mark.parametrize("change, expect", [
    (lambda s: s["model"], "not a training checkpoint of resnet-studio train"),
    (lambda s: {**s, "epoch": -3}, "records epoch -3, not one of 0..1"),
    (lambda s: {**s, "history": "{not json"}, "its meta or history is not JSON"),
    (lambda s: {**s, "model": {k: v[:1] if k == "fc.weight" else v for k, v in s["model"].items()}},
     "its weights do not fit this model (1 mis-shaped: fc.weight"),
], ids=["a bare state dict", "a negative epoch", "a history that is not JSON", "a head of another shape"])
def test_resume_checks_last_pt_before_using_it(checkpoint, tmp_path, capsys, change, expect):
    data, last, state = checkpoint
    (tmp_path / "run").mkdir()
    torch.save(change(state), tmp_path / "run" / "last.pt")
    code, err = train(capsys, "--data", data, "--output", tmp_path / "run", "--resume")
    assert code == 2 and expect in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1


def test_resume_after_a_class_was_added_names_both_class_lists(checkpoint, tmp_path, capsys):
    data, last, state = checkpoint
    grown = picture_folder(tmp_path / "data", classes=("disc", "square", "triangle"))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(last.read_bytes())
    code, err = train(capsys, "--data", grown, "--output", tmp_path / "run", "--resume")
    assert code == 2 and "trained on the classes disc, square, but the data now has disc, square, triangle" in err


def test_a_split_that_leaves_nothing_to_train_on_is_refused(tmp_path, capsys):
    data = picture_folder(tmp_path / "data", per_class=2)
    code, err = train(capsys, "--data", data, "--output", tmp_path / "run", "--val-fraction", "0.9")
    assert code == 2 and "holds out all 2 images, leaving none to train on" in err, err


def test_a_class_folder_linking_out_of_the_data_is_not_followed(tmp_path, capsys):
    data = picture_folder(tmp_path / "data")
    outside = picture_folder(tmp_path / "elsewhere", classes=("secret",))
    os.symlink(outside / "secret", data / "secret")
    code, err = train(capsys, "--data", data, "--output", tmp_path / "run")
    assert code == 0, err
    assert "secret: a link to a folder, not followed" in err
    from resnet_studio.models.checkpoint import safetensors_metadata

    assert safetensors_metadata(tmp_path / "run" / "model.safetensors")["labels"] == ["disc", "square"]


def test_class_names_with_control_characters_never_reach_a_model_file(tmp_path, capsys):
    data = picture_folder(tmp_path / "data", classes=("dog\nfake-line: Bag 100.0%", "cat\u202e"))
    code, err = train(capsys, "--data", data, "--output", tmp_path / "run")
    assert code == 2 and "may not hold control or direction characters" in err, err
    # The name is shown escaped, on one line: no raw newline or direction override reaches the terminal.
    assert "\\u202e" in err and "\u202e" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_folders_a_thousand_levels_deep_are_walked(tmp_path, capsys):
    data = picture_folder(tmp_path / "data", per_class=3)
    # Python 3.11's os.walk and rglob stop near 1,000 levels with a RecursionError.
    deep = deep_folder(data / "disc" / "nested", 1100)
    (data / "disc" / "0.png").replace(deep / "bottom.png")
    try:
        code, err = train(capsys, "--data", data, "--output", tmp_path / "run")
    finally:
        remove_deep(data / "disc" / "nested")
    assert code == 0 and "Traceback" not in err, err
    assert "chosen for 4 training images" in err  # the image at the bottom was found: 3 + 3, one of each held out
