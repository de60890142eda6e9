"""ResNet files this project did not write, made by the tools that write them (see foreign_files): the
structure, every block's F(x) and shortcut, the CAM and the classes, found from the graph alone."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from foreign_files import (
    SmallTimmStyleResNet,
    fp16,
    keras_tutorial_resnet,
    model_zoo_style,
    quantized,
    slimmed,
    torch_export,
    with_embedding_output,
)
from PIL import Image
from resnet_studio.core.engine import Engine, upsample_to
from resnet_studio.core.model_file import ModelRejected, read_model
from resnet_studio.core.presets import remember
from resnet_studio.core.session import SessionPool
from resnet_studio.models import build_model

SIZE = 64
# name -> (blocks, stages, layout, output kind, precision)
EXPECTED = {
    "resnet18-torchscript": (8, 4, "NCHW", "logits", "fp32"),
    "resnext50-torchscript": (16, 4, "NCHW", "logits", "fp32"),
    "preact-dynamo": (6, 3, "NCHW", "logits", "fp32"),
    "resnet-d-torchscript": (6, 3, "NCHW", "logits", "fp32"),
    "keras-tutorial": (3, 2, "NHWC", "probabilities", "fp32"),
    "model-zoo": (8, 4, "NCHW", "probabilities", "fp32"),
    "embedding-first": (8, 4, "NCHW", "logits", "fp32"),
    "onnxslim": (16, 4, "NCHW", "logits", "fp32"),
    "fp16": (8, 4, "NCHW", "logits", "fp16"),
    "fp16-float32-io": (8, 4, "NCHW", "logits", "fp16"),
    "int8-dynamic": (8, 4, "NCHW", "logits", "int8 (dynamic)"),
    "int8-qdq": (8, 4, "NCHW", "logits", "int8 (QDQ)"),
}


@pytest.fixture(scope="session")
def foreign(tmp_path_factory):
    """Every file once: name -> (path, the torch module it came from, or None)."""
    folder = tmp_path_factory.mktemp("foreign")
    torch.manual_seed(0)
    modules = {"resnet18-torchscript": build_model("resnet18", num_classes=10),
               "resnext50-torchscript": build_model("resnext50_32x4d", num_classes=10),
               "preact-dynamo": SmallTimmStyleResNet(pre_activation=True),
               "resnet-d-torchscript": SmallTimmStyleResNet(pre_activation=False)}
    files = {name: (torch_export(module, folder / f"{name}.onnx", SIZE, dynamo=name.endswith("dynamo")), module)
             for name, module in modules.items()}
    r18 = files["resnet18-torchscript"][0]
    files["keras-tutorial"] = (keras_tutorial_resnet(folder / "keras-tutorial.onnx", SIZE), None)
    files["model-zoo"] = (model_zoo_style(r18, folder / "model-zoo.onnx"), modules["resnet18-torchscript"])
    files["embedding-first"] = (with_embedding_output(r18, folder / "embedding-first.onnx"),
                                modules["resnet18-torchscript"])
    files["onnxslim"] = (slimmed(files["resnext50-torchscript"][0], folder / "onnxslim.onnx"),
                         modules["resnext50-torchscript"])
    for keep, name in ((False, "fp16"), (True, "fp16-float32-io")):
        files[name] = (fp16(r18, folder / f"{name}.onnx", keep), modules["resnet18-torchscript"])
    for static, name in ((False, "int8-dynamic"), (True, "int8-qdq")):
        files[name] = (quantized(r18, folder / f"{name}.onnx", static, SIZE), modules["resnet18-torchscript"])
    return files


def picture(seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (90, 80, 3), dtype=np.uint8))


@pytest.mark.parametrize("name", EXPECTED)
def test_the_structure_is_found_in_the_graph(foreign, name):
    info = read_model(foreign[name][0])
    blocks, stages, layout, kind, precision = EXPECTED[name]
    assert info.discovery is not None and not info.has_metadata
    assert len(info.architecture.blocks()) == len(info.taps.blocks()) == blocks
    assert len(info.architecture.stages) == stages and info.architecture.source == "found"
    assert (info.input.layout, info.output.kind, info.precision) == (layout, kind, precision)
    assert info.has_cam and info.taps.blocks("branch") == info.taps.blocks("shortcut") == info.taps.blocks()
    assert info.architecture.stages[0].blocks[0].name == "layer1.0"
    assert info.discovery.summary().startswith(f"found: {blocks} blocks, {stages} stages")


@pytest.mark.parametrize("name", EXPECTED)
def test_each_found_block_adds_its_branch_and_shortcut(foreign, name):
    """output = ReLU(F(x) + shortcut), or F(x) + shortcut in a pre-activation block, on the file's own tensors."""
    info = read_model(foreign[name][0])
    engine = Engine(SessionPool("cpu"))
    image = picture(1)
    for block in (info.taps.blocks()[0], info.taps.blocks()[-1]):
        parts = engine.block_parts(info, image, block, top_n=4)
        added = parts.branch + parts.shortcut
        expected = added if name.startswith("preact") else np.maximum(added, 0)
        tolerance = 0.08 if "int8" in name else 0.02 if "fp16" in name else 1e-4
        scale = max(1.0, float(np.abs(parts.output).max()))
        assert np.abs(expected - parts.output).max() <= tolerance * scale, block
        assert parts.output.shape[0] == 4 and parts.branch.shape == parts.output.shape


@pytest.mark.parametrize("name", ["resnet18-torchscript", "preact-dynamo", "resnet-d-torchscript", "model-zoo",
                                  "embedding-first", "onnxslim", "fp16-float32-io", "int8-qdq"])
def test_the_classes_are_the_networks_own(foreign, name):
    """The app's probabilities are PyTorch's softmax of the network it came from, on the app's own input."""
    path, module = foreign[name]
    info = read_model(path)
    engine = Engine(SessionPool("cpu", exact=True))  # fp32 arithmetic on whichever CPU runtime this CPU gets
    batch = np.stack([engine.model_input(info, picture(seed)) for seed in range(3)])
    results = engine.classify_arrays(info, batch, ["a", "b", "c"], k=info.num_classes)
    with torch.no_grad():
        want = torch.softmax(module.eval()(torch.from_numpy(batch)), 1).numpy()
    got = np.array([[p.probability for p in sorted(r.predictions, key=lambda p: p.index)] for r in results])
    tolerance = 0.05 if "int8" in name else 0.01 if "fp16" in name else 1e-4
    assert np.abs(got - want).max() <= tolerance
    if "int8" not in name:
        assert [r.predictions[0].index for r in results] == list(want.argmax(1))


def test_a_keras_file_runs_channels_last_and_is_not_softmaxed_twice(foreign):
    path, _ = foreign["keras-tutorial"]
    info = read_model(path)
    assert info.discovery.layout == "NHWC" and info.discovery.preset == "keras-caffe" and info.discovery.preset_guessed
    assert info.input.shape == [3, SIZE, SIZE] and info.num_classes == 2
    engine = Engine(SessionPool("cpu"))
    x = engine.model_input(info, picture(2))[None]
    raw = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {info.input.name: x.transpose(0, 2, 3, 1)})[0]
    (result,) = engine.classify_arrays(info, x, ["a"], k=2)
    assert [p.probability for p in sorted(result.predictions, key=lambda p: p.index)] == pytest.approx(raw[0], abs=1e-6)
    # The feature maps are given channels first, whatever the graph keeps.
    maps = engine.feature_maps(info, picture(2), "layer2.1", top_n=4)
    assert maps.shape[0] == 32 and maps.shape[1] == maps.shape[2]
    assert engine.cam(info, picture(2)).heat.shape == (90, 80)


def test_the_classifier_weights_are_read_dequantized_for_the_cam(foreign):
    reference = foreign["resnet18-torchscript"][1].fc.weight.detach().numpy()
    for name, tolerance in (("resnet18-torchscript", 0), ("fp16", 1e-3), ("int8-qdq", 0.02), ("int8-dynamic", 0.02)):
        found, _ = read_model(foreign[name][0]).classifier
        assert found.dtype == np.float32 and found.shape == reference.shape
        assert np.abs(found - reference).max() <= tolerance * max(1, np.abs(reference).max()), name


def test_a_model_zoo_file_runs_image_by_image_without_its_initializer_inputs(foreign):
    path, _ = foreign["model-zoo"]
    info = read_model(path)
    assert info.input.name == "data" and info.input.fixed_batch == 1
    assert info.discovery.stripped_inputs == {t.name for t in onnx.load(str(path)).graph.initializer}
    engine = Engine(SessionPool("cpu", runtime="onnxruntime"))  # the ORT session's own inputs are read
    assert [i.name for i in engine.pool.get(info).session.get_inputs()] == ["data"]
    batch = np.stack([engine.model_input(info, picture(seed)) for seed in range(3)])
    assert len(engine.classify_arrays(info, batch, ["a", "b", "c"])) == 3
    assert engine.feature_maps(info, picture(0), "layer4.1").shape[0] == 512


def test_the_logits_are_picked_by_what_makes_them_not_by_position(foreign):
    path, _ = foreign["embedding-first"]
    model = onnx.load(str(path))
    assert model.graph.output[0].name != read_model(path).output.name == model.graph.output[1].name


def test_a_float16_input_is_fed_float16(foreign):
    info = read_model(foreign["fp16"][0])
    assert info.input.dtype == "float16" and info.input.describe().endswith("float16 input")
    engine = Engine(SessionPool("cpu"))
    (result,) = engine.classify_arrays(info, engine.model_input(info, picture(0))[None], ["a"])
    assert result.ok and result.precision == "fp16"


def test_the_preset_chosen_for_a_file_is_remembered_by_its_bytes(foreign, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_STUDIO_CONFIG_DIR", str(tmp_path / "config"))  # this test's choices only
    path, _ = foreign["resnet18-torchscript"]
    copy = tmp_path / "same-bytes.onnx"
    copy.write_bytes(path.read_bytes())
    info = read_model(path)
    assert info.discovery.preset == "torchvision" and info.discovery.preset_guessed
    assert info.preprocess.resize == 73 and info.preprocess.crop == SIZE
    remember(info.identity.sha256, "timm")
    for again in (read_model(path), read_model(copy)):
        assert again.discovery.preset == "timm" and not again.discovery.preset_guessed
        assert again.preprocess.interpolation == "bicubic" and again.preprocess.resize == int(SIZE / 0.95)
    assert read_model(path, preset="plain").preprocess.mean == (0.0, 0.0, 0.0)


def test_labels_from_a_file_beside_the_model(foreign, tmp_path):
    path = tmp_path / "pets.onnx"
    path.write_bytes(foreign["resnet18-torchscript"][0].read_bytes())
    assert read_model(path).labels[0] == "class 0"
    (tmp_path / "pets.labels.txt").write_text("\n".join(f"pet {i}" for i in range(9)))  # one short: ignored
    assert read_model(path).labels[0] == "class 0"
    (tmp_path / "pets.labels.txt").write_text("\n".join(f"n0{i:07d} pet {i}" for i in range(10)) + "\n")
    info = read_model(path)
    assert info.labels == [f"pet {i}" for i in range(10)] and info.discovery.labels_from == "pets.labels.txt"


def test_an_integer_image_input_is_refused_with_one_line(tmp_path):
    from onnx_builders import save, third_party_classifier

    model = third_party_classifier()
    model.graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.UINT8
    with pytest.raises(ModelRejected) as refused:
        read_model(save(model, tmp_path / "uint8.onnx"))
    assert "should be a 4-D float32 or float16 image batch, found uint8 of rank 4" in str(refused.value)


@pytest.mark.parametrize("name", ["resnet18-torchscript", "keras-tutorial", "int8-qdq"])
def test_the_cam_is_the_classifier_weights_times_the_last_feature_map(foreign, name):
    """CAM_c = ReLU(Σ_k w[c, k] · A_k), computed here by hand from the file's own tensors."""
    path, _ = foreign[name]
    info = read_model(path)
    engine = Engine(SessionPool("cpu"))
    image = Image.new("RGB", (SIZE, SIZE), (90, 160, 30))  # the crop is the whole image: no upsampling offset
    found = engine.cam(info, image, class_index=1)
    (features,) = engine.taps(info, engine.model_input(info, image)[None], [info.taps.cam_layer])
    weight, _ = info.classifier
    by_hand = np.maximum(np.tensordot(weight[1], features[0], axes=1), 0)
    by_hand = by_hand / by_hand.max() if by_hand.max() > 0 else by_hand
    # Placed on the image as the engine places every map: back through the crop, bilinear.
    assert found.class_index == 1
    np.testing.assert_allclose(found.heat, upsample_to(by_hand, image.size, info.preprocess), atol=1e-5)


def test_a_network_without_residual_blocks_is_said_to_be_one(tmp_path):
    from onnx_builders import save, third_party_classifier

    plain = torch_export(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3),
                                             torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                             torch.nn.Linear(8, 4)), tmp_path / "plain-cnn.onnx", 32, dynamo=False)
    info = read_model(plain)
    assert info.discovery.message == "no residual blocks found: shown as a plain network"
    assert info.architecture is None and not info.has_activations
    mlp = read_model(save(third_party_classifier(), tmp_path / "mlp.onnx"))
    assert mlp.architecture is None and not mlp.taps.blocks() and mlp.num_classes == 1000


@pytest.mark.parametrize("name", ["resnet18-torchscript", "preact-dynamo", "keras-tutorial", "onnxslim"])
def test_a_block_of_any_file_can_be_removed_in_memory(foreign, name):
    """Its output becomes what the block does to the shortcut alone; the file is left as it was."""
    path = foreign[name][0]
    before = path.read_bytes()
    info = read_model(path)
    pool = SessionPool("cpu", runtime="onnxruntime")
    block = next(b.name for b in info.architecture.blocks() if b.shortcut.type == "identity")
    taps = info.taps
    names = [taps.tensor(block, "shortcut"), taps.tensor(block, "output")]
    batch = np.stack([Engine().model_input(info, picture(seed)) for seed in range(2)])
    shortcut, output = (info.taps.as_nchw(n, v) for n, v in zip(
        names, pool.run(info, batch, names, full=True, removed=frozenset({block}))[1]))
    pre_activation = info.architecture.block.endswith("(pre-activation)")
    np.testing.assert_allclose(output, shortcut if pre_activation else np.maximum(shortcut, 0), atol=1e-6)
    intact = pool.run(info, batch, [info.output.name])[1][0]
    assert not np.allclose(pool.run(info, batch, [info.output.name], removed=frozenset({block}))[1][0], intact)
    assert path.read_bytes() == before
