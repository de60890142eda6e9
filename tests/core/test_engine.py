"""The Qt-free, torch-free core: model files, sessions, results, activations and CAM."""

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx_builders import colour_cam_model, save, third_party_classifier
from PIL import Image
from resnet_studio.core.contract_parts import Preprocess
from resnet_studio.core.engine import Engine, normalise_maps, percent
from resnet_studio.core.model_io import OutputSpec
from resnet_studio.core.model_file import ModelRejected, read_model
from resnet_studio.core.preprocess import (
    as_picture,
    covers_whole,
    crop_box,
    describe_input,
    to_input,
)
from resnet_studio.core.session import (
    ProviderError,
    SessionPool,
    cuda_unavailable_reason,
)
from runners import cpu_provider


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    from resnet_studio.export.api import export, prepare

    path = tmp_path_factory.mktemp("m") / "resnet20-test.onnx"
    export(prepare("resnet20"), path)
    return path



@pytest.fixture(scope="module")
def imagenet_model(tmp_path_factory):
    from resnet_studio.export.api import export, prepare

    path = tmp_path_factory.mktemp("m") / "resnext-test.onnx"
    export(prepare("resnext50_32x4d", image_size=64), path)
    return path



def test_the_core_imports_neither_torch_nor_qt():
    code = ("import sys; import resnet_studio.core.engine, resnet_studio.core.catalog, "
            "resnet_studio.gui.cli.main; bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6')]; "
            "print(bad); sys.exit(bool(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr



def test_preprocessing_follows_the_metadata():
    image = Image.new("RGB", (300, 200), (255, 0, 0))
    spec = Preprocess(100, 80, (0.5, 0.5, 0.5), (0.5, 0.25, 0.5))
    x = to_input(image, spec)
    assert x.shape == (3, 80, 80) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 40, 40], [1.0, -2.0, -1.0], atol=1e-6)



def test_model_file_metadata(small_model):
    info = read_model(small_model)
    assert info.has_metadata and info.variant == "resnet20" and info.num_classes == 10
    assert info.labels[0] == "T-shirt/top" and info.preprocess.color == "L"
    assert "untrained" in info.weights_source
    assert info.has_cam and info.taps.cam_layer == "act.layer3.2"
    assert info.taps.stem == "act.stem" and len(info.taps.blocks()) == 9 and info.taps.blocks("branch") == info.taps.blocks()
    assert info.taps.tensor("layer2.0", "input") == "act.layer1.2" and info.taps.tensor("layer1.0", "input") == "act.stem"



def test_third_party_file_runs_on_imagenet_preprocessing(tmp_path):
    path = save(third_party_classifier(), tmp_path / "other.onnx")
    info = read_model(path)
    assert not info.has_metadata and info.weights_source.startswith("no metadata")
    assert info.preprocess.crop == 224 and info.labels[0] == "tench"
    Image.new("RGB", (320, 240), (30, 60, 90)).save(tmp_path / "img.png")
    (result,) = Engine(SessionPool("cpu")).classify_files(info, [tmp_path / "img.png"], k=3)
    assert result.ok and len(result.predictions) == 3
    assert abs(sum(p.probability for p in result.predictions)) <= 1.0
    assert result.model == "other" and result.provider == cpu_provider()



@pytest.fixture
def int8_model():
    from resnet_studio.core.catalog import shipped_models_dir

    return shipped_models_dir() / "resnext29-fashion-mnist-int8.onnx"


@pytest.mark.parametrize("fixture", ["small_model", "imagenet_model", "int8_model"])
def test_pruning_the_serialized_model_equals_pruning_the_parsed_one(request, fixture):
    from resnet_studio.core.graph import logits_only, logits_only_bytes

    path = request.getfixturevalue(fixture)
    data = path.read_bytes()
    by_bytes = onnx.ModelProto.FromString(logits_only_bytes(data))
    by_proto = logits_only(onnx.load(str(path)))
    assert [o.name for o in by_bytes.graph.output] == ["logits"] and len(onnx.load(str(path)).graph.output) > 2
    assert list(by_bytes.graph.node) == list(by_proto.graph.node)
    assert list(by_bytes.graph.value_info) == list(by_proto.graph.value_info)
    # Unused initializers stay in the bytes (ONNX Runtime drops them); the logits are the same.
    import onnxruntime as ort

    x = np.random.default_rng(0).random((2, *read_model(path).input.shape), dtype=np.float32)
    got = ort.InferenceSession(logits_only_bytes(data)).run(None, {"input": x})
    want = ort.InferenceSession(by_proto.SerializeToString()).run(None, {"input": x})
    assert len(got) == 1 and np.array_equal(got[0], want[0])
    single = by_proto.SerializeToString()
    assert logits_only_bytes(single) == single  # one output: nothing to prune



@pytest.mark.parametrize("case, reason", [
    ("external", "uses external data"),
    ("rank", "should be a 4-D float32 or float16 image batch"),
    ("json", "metadata 'labels' is not valid JSON"),
    ("types", "metadata 'preprocess' should be a dict"),
    ("labels", "3 labels for 1000 logits"),
    ("truncated", "not a readable ONNX file"),
    ("empty", "empty file"),
    ("no-logits", "no 2-D class output"),
])
def test_model_refusals(tmp_path, case, reason):
    model = third_party_classifier()
    path = tmp_path / "m.onnx"
    if case == "external":
        tensor = model.graph.initializer[0]
        tensor.ClearField("float_data")
        tensor.ClearField("raw_data")
        tensor.data_location = onnx.TensorProto.EXTERNAL
        entry = tensor.external_data.add()
        entry.key, entry.value = "location", "../../etc/passwd"
    elif case == "rank":
        model.graph.input[0].type.tensor_type.shape.dim.pop()
    elif case == "json":
        onnx.helper.set_model_props(model, {"labels": "[not json", "preprocess": "{}"})
    elif case == "types":
        onnx.helper.set_model_props(model, {"labels": json.dumps(["a"] * 1000), "preprocess": json.dumps([1, 2])})
    elif case == "labels":
        pre = {"resize": 256, "crop": 224, "mean": [0, 0, 0], "std": [1, 1, 1], "color": "RGB"}
        onnx.helper.set_model_props(model, {"labels": json.dumps(["a", "b", "c"]), "preprocess": json.dumps(pre)})
    elif case == "no-logits":
        model.graph.output[0].type.tensor_type.shape.dim.pop()
    if case == "truncated":
        path.write_bytes(model.SerializeToString()[:500])
    elif case == "empty":
        path.write_bytes(b"")
    else:
        save(model, path)
    with pytest.raises(ModelRejected) as err:
        read_model(path)
    assert reason in str(err.value) and "\n" not in str(err.value)



def test_results_record_model_and_provider_and_batch_matches_single(small_model, tmp_path):
    info = read_model(small_model)
    engine = Engine(SessionPool("cpu"))
    paths = []
    for i in range(11):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (28, 28), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    batched = list(engine.classify_files(info, paths, k=10, batch_size=4))
    single = list(engine.classify_files(info, paths, k=10, batch_size=1))
    assert [r.source for r in batched] == [str(p) for p in paths]
    for a, b in zip(batched, single):
        assert a.model == "resnet20-test" and a.provider == cpu_provider() and a.provider_note == "CPU requested"
        assert [p.index for p in a.predictions] == [p.index for p in b.predictions]
        np.testing.assert_allclose([p.probability for p in a.predictions], [p.probability for p in b.predictions],
                                   rtol=1e-4, atol=1e-6)
        assert abs(sum(p.probability for p in a.predictions) - 1) < 1e-5



def test_auto_device_falls_back_to_cpu_with_a_reason(small_model):
    reason = cuda_unavailable_reason()
    handle = SessionPool("auto").get(read_model(small_model))
    if reason:
        assert handle.provider == cpu_provider() and handle.reason == reason
        with pytest.raises(ProviderError, match="CUDA requested but not usable"):
            SessionPool("cuda").get(read_model(small_model))
    else:  # a machine with a working GPU
        assert handle.provider == "CUDAExecutionProvider" and handle.reason is None



def test_a_replaced_model_file_is_reloaded(small_model, tmp_path):
    target = tmp_path / "swap.onnx"
    target.write_bytes(small_model.read_bytes())
    pool = SessionPool("cpu", runtime="onnxruntime")  # the ORT session's own outputs are read below
    first = pool.get(read_model(target))
    save(colour_cam_model(28), target)
    second = pool.get(read_model(target))
    assert first is not second and second.session.get_outputs()[0].shape[1] == 3



def test_feature_maps_are_top_channels_normalised(imagenet_model, tmp_path):
    info = read_model(imagenet_model)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8))
    engine = Engine(SessionPool("cpu"))
    maps = engine.feature_maps(info, image, "layer2.0", top_n=8)
    assert maps.values.shape[0] == 8 and maps.shape == [512, 8, 8]
    assert maps.means == sorted(maps.means, reverse=True)
    assert normalise_maps(np.ones((1, 3, 3))).max() == 0
    for shared in (True, False):
        scaled, low, high = maps.scaled(shared)
        assert scaled.min() >= 0 and scaled.max() <= 1 and low == maps.values.min() and high == maps.values.max()
    # Shared: only the strongest value reaches 1; per channel: every non-constant map does.
    shared, _, _ = maps.scaled(True)
    assert (shared.max(axis=(1, 2)) == 1).sum() == 1
    assert (maps.scaled(False)[0].max(axis=(1, 2)) == 1).sum() == sum(v.max() > v.min() for v in maps.values)
    weakest = engine.feature_maps(info, image, "layer2.0", top_n=8, weakest=True)
    assert weakest.means == sorted(weakest.means) and weakest.means[0] <= maps.means[-1]



def test_the_model_input_as_a_picture_and_its_crop_box():
    spec = Preprocess(256, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    box = crop_box(image.size, spec)
    # 400x300 -> 341x256, centre 224 crop at (58, 16): back in original pixels, scaled by 400/341 and 300/256.
    assert box == pytest.approx((58 * 400 / 341, 16 * 300 / 256, 282 * 400 / 341, 240 * 300 / 256))
    picture = as_picture(to_input(image, spec), spec)
    expected = np.asarray(image.resize((341, 256), Image.Resampling.BILINEAR).crop((58, 16, 282, 240)))
    assert picture.shape == (224, 224, 3) and np.abs(picture.astype(int) - expected).max() <= 1
    grey = Preprocess(28, 28, (0.286,), (0.353,), "L")
    tall = Image.new("L", (28, 56), 200)
    assert crop_box(tall.size, grey) == (0, 14, 28, 42) and not covers_whole(crop_box(tall.size, grey), tall.size)
    assert covers_whole(crop_box((28, 28), grey), (28, 28))
    assert (as_picture(to_input(tall, grey), grey) == 200).all()
    assert describe_input(grey) == "28×28 greyscale: the shorter side resized to 28, then the centre square"



@pytest.mark.parametrize("fixture", ["small_model", "imagenet_model"])
def test_cam_matches_weights_times_features(request, fixture):
    info = read_model(request.getfixturevalue(fixture))
    engine = Engine(SessionPool("cpu"))
    colour = info.preprocess.decode_mode
    image = Image.fromarray(np.random.default_rng(3).integers(0, 255, (70, 50, 3), dtype=np.uint8)).convert(colour)
    found = engine.cam(info, image, class_index=2)
    cam, chosen = found.heat, found.class_index
    assert chosen == 2 and cam.shape == (70, 50) and cam.min() >= 0 and cam.max() <= 1
    # Nothing outside the crop the model saw can light up.
    left, top, right, bottom = crop_box(image.size, info.preprocess)
    assert cam[:max(0, int(top) - 1)].max(initial=0) == 0 and cam[int(bottom) + 1:].max(initial=0) == 0



def test_cam_on_a_known_case(tmp_path):
    info = read_model(save(colour_cam_model(8), tmp_path / "colour.onnx"))
    image = Image.new("RGB", (8, 8), (0, 0, 0))
    image.paste((255, 0, 0), (0, 0, 4, 8))  # left half red
    image.paste((0, 0, 255), (4, 0, 8, 8))  # right half blue
    engine = Engine(SessionPool("cpu"))
    found = engine.cam(info, image, class_index=0)
    red = found.heat
    assert found.class_index == 0
    # The probability named with the map is the model's own softmax for that class.
    logits = engine.pool.run(info, engine.model_input(info, image)[None], [info.output.name])[1][0][0]
    exp = np.exp(logits.astype(np.float64) - logits.max())
    assert found.probability == pytest.approx(float(exp[0] / exp.sum()))
    np.testing.assert_allclose(red[:, :4], 1, atol=1e-6)
    np.testing.assert_allclose(red[:, 4:], 0, atol=1e-6)
    blue = engine.cam(info, image, class_index=2).heat
    np.testing.assert_allclose(blue[:, 4:], 1, atol=1e-6)
    # Upsampled onto a larger image: the red half stays on the left.
    big = engine.cam(info, image.resize((64, 64), Image.Resampling.NEAREST), class_index=0).heat
    assert big.shape == (64, 64) and big[:, :24].min() > 0.9 and big[:, 40:].max() < 0.1



def test_rounding_never_claims_certainty_the_model_did_not_give():
    assert [percent(p) for p in (1.0, 0.99996, 0.9994, 0.5, 0.0004, 0.0)] == [
        ">99.9%", ">99.9%", "99.9%", "50.0%", "<0.1%", "<0.1%"]



def test_probabilities_from_each_kind_of_class_output():
    p = OutputSpec("logits", 3).probabilities(np.array([[1000.0, 0.0, -1000.0]]))
    assert np.isfinite(p).all() and abs(p.sum() - 1) < 1e-12
    # A file that ends in a Softmax is not softmaxed again: 4.6% stays 4.6%.
    given = np.array([[0.046, 0.9, 0.054]])
    np.testing.assert_allclose(OutputSpec("prob", 3, "probabilities").probabilities(given), given)
    # One sigmoid is two classes, no and yes.
    np.testing.assert_allclose(OutputSpec("p", 1, "sigmoid").probabilities(np.array([[0.8]])), [[0.2, 0.8]])
    assert OutputSpec("p", 1, "sigmoid").classes == 2



def test_prefetching_keeps_order_reasons_and_stops_when_abandoned(small_model, tmp_path):
    info = read_model(small_model)
    paths = []
    for i in range(23):
        path = tmp_path / f"{i:02d}.png"
        if i % 7 == 3:
            path.write_bytes(b"not an image")
        else:
            Image.new("L", (28, 28), i * 10).save(path)
        paths.append(path)
    engine = Engine(SessionPool("cpu"))
    results = list(engine.classify_files(info, paths, k=3, batch_size=4, prefetch=1))
    assert [r.source for r in results] == [str(p) for p in paths]
    assert [r.ok for r in results] == [i % 7 != 3 for i in range(23)]
    sequential = [r for p in paths for r in engine.classify_files(info, [p], k=3, batch_size=1)]
    assert [r.predictions[0].index if r.ok else None for r in results] == \
           [r.predictions[0].index if r.ok else None for r in sequential]
    # A consumer that stops early stops the decoding thread too.
    import threading

    stream = engine.classify_files(info, paths * 50, k=1, batch_size=2)
    next(stream)
    stream.close()
    assert not any(t.name == "decode-prefetch" and t.is_alive() for t in threading.enumerate())

