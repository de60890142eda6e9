"""Score-CAM at any block, by forward passes only, and the deletion test of Petsiuk et al. (2018)."""

from __future__ import annotations

import numpy as np
from PIL import Image
from resnet_studio.core.engine import Engine
from resnet_studio.core.model_file import read_model
from resnet_studio.core.score_cam import score_cam
from resnet_studio.core.session import SessionPool
from resnet_studio.models.fashion_mnist import load_split
from runners import DEFAULT, cli


def deletion_drop(engine, info, images, labels, rank) -> float:
    """The mean fall in the true class's probability when the 20% of pixels ``rank`` puts first are zeroed."""
    drops = []
    for image, label in zip(images, labels):
        picture = Image.fromarray(image, "L")
        order = np.argsort(-rank(picture).ravel(), kind="stable")[: image.size // 5]
        damaged = image.copy().ravel()
        damaged[order] = 0
        damaged = Image.fromarray(damaged.reshape(image.shape), "L")
        before, after = (engine.classify_scores(info, engine.model_input(info, p)[None])[0, label]
                         for p in (picture, damaged))
        drops.append(before - after)
    return float(np.mean(drops))


def test_score_cam_maps_are_finite_at_the_image_size_and_faithful():
    info = read_model(DEFAULT)
    engine = Engine(SessionPool("cpu", runtime="onnxruntime"))
    images, labels = load_split("test")
    images, labels = images[:40], labels[:40]
    found, note = score_cam(engine, info, Image.fromarray(images[0], "L"), "layer3.0")
    assert found.heat.shape == (28, 28) and np.isfinite(found.heat).all() and 0.5 < found.heat.max() <= 1.0
    assert note == ""  # 64 channels: every one was used
    wide, note = score_cam(engine, info, Image.fromarray(images[0], "L"), "layer3.0", max_channels=16)
    assert "16 channels of layer3.0" in note and np.isfinite(wide.heat).all()
    rng = np.random.default_rng(0)
    random = deletion_drop(engine, info, images, labels, lambda p: rng.random((28, 28)))
    for method in (lambda p: score_cam(engine, info, p, "layer3.0", None)[0].heat,
                   lambda p: engine.cam(info, p).heat):
        ranked = deletion_drop(engine, info, images, labels, method)
        assert ranked > random + 0.05, (ranked, random)


def test_explain_writes_the_raw_map_at_the_file_size_and_an_overlay(tmp_path):
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (30, 44), dtype=np.uint8)).save(tmp_path / "wide.png")
    out = tmp_path / "maps"
    result = cli("explain", tmp_path / "wide.png", "--model", DEFAULT, "--layer", "layer2.1", "--method", "score-cam",
                 "--output", out)
    assert result.returncode == 0, result.stderr[-2000:]
    raw = np.load(out / "wide.npy", allow_pickle=False)
    assert raw.shape == (30, 44) and raw.dtype == np.float32 and np.isfinite(raw).all() and raw.max() > 0
    assert Image.open(out / "wide.png").size == (44, 30)
    result = cli("explain", tmp_path / "wide.png", "--model", DEFAULT, "--layer", "layer2.1", "--output", out)
    assert result.returncode == 2 and "use --method score-cam" in result.stderr
    cam = cli("explain", tmp_path / "wide.png", "--model", DEFAULT, "--output", out, "--class", "3")
    assert cam.returncode == 0 and np.load(out / "wide.npy").shape == (30, 44)
