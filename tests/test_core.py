"""The Qt-free, torch-free core: intake, model files, sessions, results, activations and CAM."""

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from PIL import Image

from onnx_builders import colour_cam_model, save, third_party_classifier
from resnet_studio.gui.cli.main import main as studio_main
from resnet_studio.core.catalog import Catalog
from resnet_studio.core.engine import Engine, normalise_maps, percent, softmax
from resnet_studio.core.intake import ImageRejected, load_image
from resnet_studio.core.model_file import ModelRejected, read_model
from resnet_studio.core.preprocess import as_picture, covers_whole, crop_box, describe_input, to_input
from resnet_studio.core.session import CPU, ProviderError, SessionPool, cuda_unavailable_reason


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


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "LA", "RGBA", "CMYK", "1", "I;16", "I", "F"])
def test_every_mode_becomes_rgb_or_l(tmp_path, mode):
    gradient = np.linspace(0, 1, 64 * 48).reshape(48, 64)
    if mode in ("I;16", "I", "F"):
        scale = {"I;16": 65535, "I": 1_000_000, "F": 3.5}[mode]
        image = Image.fromarray((gradient * scale).astype({"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]))
        image = image if image.mode == mode else image.convert(mode)
        path = tmp_path / "x.tiff" if mode != "I;16" else tmp_path / "x.png"
    else:
        image = Image.fromarray((gradient * 255).astype(np.uint8)).convert(mode)
        path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    image.save(path)
    rgb = load_image(path, "RGB")
    assert rgb.mode == "RGB" and rgb.size == (64, 48)
    grey = np.asarray(load_image(path, "L"), dtype=np.float64)
    if mode in ("I;16", "I", "F"):
        # Rescaled to the full range, not clipped to a few grey levels.
        assert grey.min() <= 2 and grey.max() >= 253


def test_transparency_is_composited_on_white(tmp_path):
    image = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    image.save(tmp_path / "clear.png")
    assert load_image(tmp_path / "clear.png").getpixel((3, 3)) == (255, 255, 255)
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.save(tmp_path / "p.png", transparency=0)
    assert load_image(tmp_path / "p.png").getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    image.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").size == (20, 40)


def test_animated_gif_uses_the_first_frame(tmp_path):
    frames = [Image.new("RGB", (10, 10), c) for c in [(255, 0, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    r, g, b = load_image(tmp_path / "a.gif").getpixel((5, 5))
    assert r > 200 and b < 50


@pytest.mark.parametrize("case, reason", [
    ("empty", "empty file"),
    ("text", "not an image in an allowed format"),
    ("truncated", "damaged or truncated"),
    ("directory", "is a directory"),
    ("missing", "cannot read"),
    ("url", "remote URLs are not fetched"),
    ("bomb", "possible decompression bomb"),
    ("svg", "not an image in an allowed format"),
])
def test_bad_inputs_get_their_own_one_line_reason(tmp_path, case, reason):
    path = tmp_path / "x.jpg"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("hello, I am text")
    elif case == "truncated":
        Image.new("RGB", (256, 256), (10, 200, 30)).save(tmp_path / "ok.png")
        path = tmp_path / "cut.png"
        path.write_bytes((tmp_path / "ok.png").read_bytes()[:120])
    elif case == "directory":
        path = tmp_path / "folder.png"
        path.mkdir()
    elif case == "url":
        path = "http://example.com/cat.jpg"
    elif case == "bomb":
        # A real PNG header claiming 20000x20000 with almost no data behind it.
        Image.new("1", (20000, 20000)).save(tmp_path / "bomb.png")
        path = tmp_path / "bomb.png"
    elif case == "svg":
        path = tmp_path / "x.svg"
        path.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    with pytest.raises(ImageRejected) as err:
        load_image(path)
    assert reason in str(err.value) and "\n" not in str(err.value)


def test_large_jpeg_decodes_in_draft_mode(tmp_path):
    Image.new("RGB", (4000, 3000), (90, 120, 200)).save(tmp_path / "big.jpg")
    image = load_image(tmp_path / "big.jpg", min_side=256)
    assert image.size == (500, 375)  # 1/8 scale; the shorter side stays above 256
    assert load_image(tmp_path / "big.jpg").size == (4000, 3000)


def test_preprocessing_follows_the_metadata():
    image = Image.new("RGB", (300, 200), (255, 0, 0))
    spec = {"resize": 100, "crop": 80, "interpolation": "bilinear", "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.25, 0.5], "color": "RGB"}
    x = to_input(image, spec)
    assert x.shape == (3, 80, 80) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 40, 40], [1.0, -2.0, -1.0], atol=1e-6)


def test_model_file_metadata(small_model):
    info = read_model(small_model)
    assert info.has_metadata and info.variant == "resnet20" and info.num_classes == 10
    assert info.labels[0] == "T-shirt/top" and info.preprocess["color"] == "L"
    assert "untrained" in info.weights_source
    assert info.has_cam and info.cam_layer == "act.layer3.2"
    assert len(info.activation_outputs) == 10


def test_third_party_file_runs_on_imagenet_preprocessing(tmp_path):
    path = save(third_party_classifier(), tmp_path / "other.onnx")
    info = read_model(path)
    assert not info.has_metadata and info.weights_source == "no metadata"
    assert info.preprocess["crop"] == 224 and info.labels[0] == "tench"
    Image.new("RGB", (320, 240), (30, 60, 90)).save(tmp_path / "img.png")
    (result,) = Engine(SessionPool("cpu")).classify_files(info, [tmp_path / "img.png"], k=3)
    assert result.ok and len(result.predictions) == 3
    assert abs(sum(p.probability for p in result.predictions)) <= 1.0
    assert result.model == "other" and result.provider == CPU


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

    x = np.random.default_rng(0).random((2, *read_model(path).input_shape), dtype=np.float32)
    got = ort.InferenceSession(logits_only_bytes(data)).run(None, {"input": x})
    want = ort.InferenceSession(by_proto.SerializeToString()).run(None, {"input": x})
    assert len(got) == 1 and np.array_equal(got[0], want[0])
    single = by_proto.SerializeToString()
    assert logits_only_bytes(single) == single  # one output: nothing to prune


@pytest.fixture
def int8_model():
    from resnet_studio.core.catalog import shipped_models_dir

    return shipped_models_dir() / "resnext29-fashion-mnist-int8.onnx"


@pytest.mark.parametrize("case, reason", [
    ("external", "uses external data"),
    ("rank", "should be 4-D float32"),
    ("json", "metadata 'labels' is not valid JSON"),
    ("types", "metadata 'preprocess' should be a dict"),
    ("labels", "3 labels for 1000 logits"),
    ("truncated", "not a readable ONNX file"),
    ("empty", "empty file"),
    ("no-logits", "no 2-D logits output"),
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
        assert a.model == "resnet20-test" and a.provider == CPU and a.provider_note == "CPU requested"
        assert [p.index for p in a.predictions] == [p.index for p in b.predictions]
        np.testing.assert_allclose([p.probability for p in a.predictions], [p.probability for p in b.predictions],
                                   rtol=1e-4, atol=1e-6)
        assert abs(sum(p.probability for p in a.predictions) - 1) < 1e-5


def test_auto_device_falls_back_to_cpu_with_a_reason(small_model):
    reason = cuda_unavailable_reason()
    handle = SessionPool("auto").get(read_model(small_model))
    if reason:
        assert handle.provider == CPU and handle.reason == reason
        with pytest.raises(ProviderError, match="CUDA requested but not usable"):
            SessionPool("cuda").get(read_model(small_model))
    else:  # a machine with a working GPU
        assert handle.provider == "CUDAExecutionProvider" and handle.reason is None


def test_a_replaced_model_file_is_reloaded(small_model, tmp_path):
    target = tmp_path / "swap.onnx"
    target.write_bytes(small_model.read_bytes())
    pool = SessionPool("cpu")
    first = pool.get(read_model(target))
    save(colour_cam_model(28), target)
    second = pool.get(read_model(target))
    assert first is not second and second.session.get_outputs()[0].shape[1] == 3


def test_feature_maps_are_top_channels_normalised(imagenet_model, tmp_path):
    info = read_model(imagenet_model)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8))
    engine = Engine(SessionPool("cpu"))
    maps = engine.feature_maps(info, image, "act.layer2.0", top_n=8)
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
    weakest = engine.feature_maps(info, image, "act.layer2.0", top_n=8, weakest=True)
    assert weakest.means == sorted(weakest.means) and weakest.means[0] <= maps.means[-1]


def test_the_model_input_as_a_picture_and_its_crop_box():
    spec = {"resize": 256, "crop": 224, "color": "RGB", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    box = crop_box(image.size, spec)
    # 400x300 -> 341x256, centre 224 crop at (58, 16): back in original pixels, scaled by 400/341 and 300/256.
    assert box == pytest.approx((58 * 400 / 341, 16 * 300 / 256, 282 * 400 / 341, 240 * 300 / 256))
    picture = as_picture(to_input(image, spec), spec)
    expected = np.asarray(image.resize((341, 256), Image.Resampling.BILINEAR).crop((58, 16, 282, 240)))
    assert picture.shape == (224, 224, 3) and np.abs(picture.astype(int) - expected).max() <= 1
    grey = {"resize": 28, "crop": 28, "color": "L", "mean": [0.286], "std": [0.353]}
    tall = Image.new("L", (28, 56), 200)
    assert crop_box(tall.size, grey) == (0, 14, 28, 42) and not covers_whole(crop_box(tall.size, grey), tall.size)
    assert covers_whole(crop_box((28, 28), grey), (28, 28))
    assert (as_picture(to_input(tall, grey), grey) == 200).all()
    assert describe_input(grey) == "28×28 greyscale: the shorter side resized to 28, then the centre square"


@pytest.mark.parametrize("fixture", ["small_model", "imagenet_model"])
def test_cam_matches_weights_times_features(request, fixture):
    info = read_model(request.getfixturevalue(fixture))
    engine = Engine(SessionPool("cpu"))
    colour = "L" if info.preprocess["color"] == "L" else "RGB"
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
    logits = engine.pool.run(info, engine.model_input(info, image)[None], [info.logits_name])[1][0][0]
    assert found.probability == pytest.approx(float(softmax(logits.astype(np.float64))[0]))
    np.testing.assert_allclose(red[:, :4], 1, atol=1e-6)
    np.testing.assert_allclose(red[:, 4:], 0, atol=1e-6)
    blue = engine.cam(info, image, class_index=2).heat
    np.testing.assert_allclose(blue[:, 4:], 1, atol=1e-6)
    # Upsampled onto a larger image: the red half stays on the left.
    big = engine.cam(info, image.resize((64, 64), Image.Resampling.NEAREST), class_index=0).heat
    assert big.shape == (64, 64) and big[:, :24].min() > 0.9 and big[:, 40:].max() < 0.1


def test_rounding_never_claims_certainty_the_model_did_not_give():
    assert [percent(p) for p in (1.0, 0.99996, 0.9994, 0.5, 0.0004, 0.0)] == [
        "100.0%", ">99.9%", "99.9%", "50.0%", "<0.1%", "0.0%"]


def test_softmax_is_stable():
    p = softmax(np.array([[1000.0, 0.0, -1000.0]]))
    assert np.isfinite(p).all() and abs(p.sum() - 1) < 1e-12


def test_predict_cli_json_and_exit_codes(small_model, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.new("L", (28, 28), i * 80).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("ignored: folders expand to images only")
    assert studio_main(["predict", str(folder), "--model", str(small_model), "--json", "--top-k", "2",
                        "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["images"] == 3 and out["failed"] == 0 and out["model"]["variant"] == "resnet20"
    assert out["model"]["weights"].startswith("untrained")
    first = out["results"][0]
    assert set(first) == {"source", "model", "weights", "provider", "provider_note", "predictions", "error",
                          "decode_ms", "inference_ms", "out_of_distribution", "ood_score", "precision"}
    assert len(first["predictions"]) == 2 and first["provider"] == CPU
    (tmp_path / "bad.jpg").write_text("nope")
    assert studio_main(["predict", str(folder / "0.png"), str(tmp_path / "bad.jpg"), "--model", str(small_model),
                        "--device", "cpu"]) == 1
    text = capsys.readouterr().out
    assert "untrained (random weights)" in text and "bad.jpg: error: " in text and "Traceback" not in text
    assert studio_main(["predict", str(folder), "--model", "no-such-model"]) == 2
    assert "no model named 'no-such-model'" in capsys.readouterr().err


def test_models_cli_lists_entries(small_model, tmp_path, capsys):
    (tmp_path / "broken.onnx").write_bytes(b"junk")
    (tmp_path / "copy.onnx").write_bytes(small_model.read_bytes())
    assert studio_main(["models", "--models-dir", str(tmp_path), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["copy"]["variant"] == "resnet20" and rows["copy"]["origin"] == "user"
    assert rows["copy"]["group"] == "untrained" and rows["copy"]["activations"] is True
    assert "not a readable ONNX file" in rows["broken"]["error"]
    catalog = Catalog(tmp_path)
    assert catalog.resolve("copy").variant == "resnet20"
    with pytest.raises(ModelRejected, match="did you mean copy"):
        catalog.resolve("cpy")


def test_bench_reports_every_case_and_the_ratios(small_model):
    result = subprocess.run([sys.executable, "-m", "resnet_studio.gui.cli.main", "bench", "--model", str(small_model),
                             "--seconds", "0.2", "--batch", "4", "--device", "cpu", "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    for case in ("raw_session", "core", "raw_session_batch1", "jpeg_12mp_to_top5", "photos_to_results", "app",
                 "torch_eager", "torch_eager_channels_last"):
        assert report[case]["images_per_second"] > 0, case
    bf16 = report["torch_eager_bf16"]  # timed where the CPU has bf16 instructions, else it says why not
    assert bf16.get("images_per_second", 0) > 0 or "no native bf16" in bf16["skipped"]
    assert report["app"]["images"] == report["photos_to_results"]["images"] == [32, 96]  # steady state: 96 less 32
    assert set(report["ratios"]) == {"core_overhead_vs_raw", "ort_vs_torch", "ort_vs_fastest_torch",
                                     "jpeg_12mp_to_top5_vs_inference", "photos_to_results_time_vs_raw",
                                     "app_time_vs_raw"}
    assert report["provider"] == CPU and report["threads"] >= 1 and report["cpu"]


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
