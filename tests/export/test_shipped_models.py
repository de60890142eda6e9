"""The trained models in resources/: real accuracy, honest metadata, sizes fit for git."""

import json

import numpy as np
import pytest
from resnet_studio.core.catalog import DEFAULT_MODEL, Catalog, shipped_models_dir
from resnet_studio.core.engine import Engine
from resnet_studio.core.model_file import read_model
from resnet_studio.core.session import SessionPool
from resnet_studio.models.fashion_mnist import DEFAULT_DIR

SHIPPED = sorted(shipped_models_dir().glob("*.onnx"))


def test_models_are_shipped_and_the_default_is_the_smallest_resnet():
    names = {p.stem for p in SHIPPED}
    assert DEFAULT_MODEL in names and f"{DEFAULT_MODEL}-int8" in names
    resnext = [read_model(p) for p in SHIPPED if read_model(p).variant.startswith("resnext")]
    assert {m.precision for m in resnext} == {"fp32", "int8"}
    default = Catalog(shipped_models_dir() / "no-user-models").default()
    assert default.name == DEFAULT_MODEL
    resnets = [read_model(p) for p in SHIPPED if read_model(p).variant.startswith("resnet")]
    assert default.meta.params == min(m.meta.params for m in resnets)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_file_metadata_is_honest(path):
    info = read_model(path)
    assert path.stat().st_size < 4 * 1024**2
    assert info.meta.dataset == "Fashion-MNIST" and info.meta.weights.source == "trained"
    assert info.weights_source == "trained on Fashion-MNIST"
    assert info.meta.metrics.values["onnx_top1_images"] == 10_000
    assert info.has_cam and info.preprocess.color == "L" and info.preprocess.crop == 28
    assert "resnet-studio train" in info.meta.weights.extra["command"]


def test_accuracy_targets():
    infos = {p.stem: read_model(p) for p in SHIPPED}
    fp32 = {n: i for n, i in infos.items() if i.precision == "fp32"}
    assert max(i.meta.metrics.values["onnx_top1"] for i in fp32.values()) >= 0.935
    for name, info in fp32.items():
        quantized = infos[f"{name}-int8"]
        assert info.meta.metrics.values["onnx_top1"] - quantized.meta.metrics.values["onnx_top1"] <= 0.005, name


@pytest.mark.skipif(not DEFAULT_DIR.exists(), reason="dataset-fashion-mnist is not installed")
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_recorded_accuracy_is_reproduced(path):
    from PIL import Image
    from resnet_studio.core.preprocess import to_input
    from resnet_studio.models.fashion_mnist import load_split

    info = read_model(path)
    images, labels = load_split("test")
    count = 2000
    batch = np.stack([to_input(Image.fromarray(im, "L"), info.preprocess) for im in images[:count]])
    engine = Engine(SessionPool("cpu"))
    results = engine.classify_arrays(info, batch, [str(i) for i in range(count)], k=1)
    accuracy = np.mean([r.predictions[0].index == y for r, y in zip(results, labels[:count])])
    # 2,000 images: within 2 points of the figure recorded for all 10,000.
    assert abs(accuracy - info.meta.metrics.values["onnx_top1"]) < 0.02


def test_sample_images_are_classified_correctly():
    samples = sorted((shipped_models_dir() / "samples").glob("*.png"))
    assert len(samples) == 10 and sum(p.stat().st_size for p in samples) < 10_000
    info = Catalog(shipped_models_dir() / "no-user-models").default()
    results = list(Engine(SessionPool("cpu")).classify_files(info, samples, k=1))
    slug = lambda label: label.lower().replace("/", "-").replace(" ", "-")  # noqa: E731
    right = sum(r.source.split("/")[-1].startswith(slug(r.predictions[0].label)) for r in results)
    assert right >= 8, json.dumps([r.to_json() for r in results])[:2000]
