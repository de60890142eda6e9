"""Hypothesis fuzzing of image intake and the metadata parser.

Bounded for CI; a longer campaign: ``HYPOTHESIS_PROFILE=long .venv/bin/pytest tests/core/test_fuzz.py``
(20,000 examples per test), or raise ``FUZZ_EXAMPLES``.
"""

import io
import json
import os

import onnx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx_builders import colour_cam_model
from PIL import Image
from resnet_studio.core.intake import ImageRejected, load_image
from resnet_studio.core.model_file import ModelRejected, read_model

settings.register_profile("ci", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("long", max_examples=20_000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _seed_images() -> dict[str, bytes]:
    seeds = {}
    image = Image.new("RGB", (24, 16), (30, 120, 200))
    for fmt in ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"):
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        seeds[fmt] = buffer.getvalue()
    return seeds


SEEDS = _seed_images()


@st.composite
def mutated_image(draw):
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[position:position + draw(st.integers(1, 16))]
        else:
            del data[position:]
    return bytes(data)


@given(mutated_image())
def test_intake_never_raises_anything_but_a_reason(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "x.img"
    path.write_bytes(data)
    try:
        image = load_image(path, "RGB", min_side=8)
    except ImageRejected as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert image.mode == "RGB" and image.width > 0 and image.height > 0


# Keys the parser looks for, so that fuzzed values land where they are read.
KEYS = st.sampled_from(["source", "trained", "file", "onnx_top1", "test_top1", "imagenet_top1", "resize", "crop",
                        "mean", "std", "color", "interpolation", "outputs", "cam_layer", "fc_weight", "fc_bias",
                        "features"]) | st.text(max_size=6)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                       max_leaves=16)


@given(key=st.sampled_from(["labels", "preprocess", "activations", "weights", "metrics", "architecture",
                            "params", "macs", "precision", "variant", "dataset"]),
       value=st.one_of(JSONISH.map(json.dumps), st.text(max_size=40)))
def test_metadata_parser_never_raises_anything_but_a_reason(tmp_path_factory, key, value):
    model = colour_cam_model(8)
    props = {p.key: p.value for p in model.metadata_props}
    props[key] = value
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    path = tmp_path_factory.mktemp("fuzz") / "m.onnx"
    onnx.save_model(model, str(path))
    try:
        info = read_model(path)
    except ModelRejected as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert len(info.labels) == info.num_classes == 3
        assert info.weights_source and isinstance(info.meta.metrics.values, dict)
        info.accuracy  # noqa: B018 - must not raise on whatever the metrics hold
