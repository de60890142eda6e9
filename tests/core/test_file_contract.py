"""The model file contract: what the exporter writes is what the reader reads, field by field."""

from __future__ import annotations

from dataclasses import fields

import json

import pytest
from resnet_studio.core.architecture import Architecture
from resnet_studio.core.contract_parts import Metrics, Preprocess, Tap, Taps, Weights
from resnet_studio.core.file_contract import (
    FILE_SCHEMA,
    KEYS,
    KINDS,
    FileMetadata,
    GraphFacts,
    encode,
)
from resnet_studio.core.model_file import ModelRejected

GRAPH = GraphFacts({"logits", "act.stem", "act.layer1.0", "b", "features"}, {"fc.weight", "fc.bias"}, 1)


def full() -> FileMetadata:
    from resnet_studio.models import build_model, describe

    return FileMetadata(
        labels=["cat", "dog"], preprocess=Preprocess(32, 28, (0.5,), (0.25,), "L"),
        variant="resnet20", architecture=Architecture.from_json(describe(build_model("resnet20", num_classes=2), 28)),
        weights=Weights("trained", True, extra={"command": "resnet-studio train"}),
        metrics=Metrics({"test_top1": 0.9123}), params=272_474, macs=30_000_000, precision="int8",
        dataset="Fashion-MNIST",
        taps=Taps([Tap("layer1.0", "input", "act.stem"), Tap("layer1.0", "branch", "b"),
                   Tap("layer1.0", "output", "act.layer1.0")], "act.stem", "features", "act.layer1.0",
                  "fc.weight", "fc.bias"),
        producer={"name": "resnet-studio", "version": "0.1.0"}, ood={"method": "mahalanobis"})


def test_every_field_has_a_stored_type():
    assert set(KINDS) == {KEYS.get(f.name, f.name) for f in fields(FileMetadata)}


def test_written_fields_read_back_equal():
    meta = full()
    props = meta.to_props()
    assert props["variant"] == "resnet20" and props["schema"] == str(FILE_SCHEMA)  # text unquoted, rest JSON
    assert FileMetadata.from_props(props, "f.onnx", ModelRejected, GRAPH) == meta


def test_taps_name_only_tensors_the_graph_has():
    props = full().to_props()
    meta = FileMetadata.from_props(props, "f.onnx", ModelRejected, GraphFacts({"logits", "act.stem"}, set(), 1))
    assert meta.taps.blocks() == [] and meta.taps.tensor("layer1.0", "input") == "act.stem"
    assert meta.taps.fc_weight is None and meta.taps.cam_layer is None


def test_absent_or_null_optional_fields_take_their_defaults():
    props = full().to_props()
    for name in ("ood", "architecture", "metrics", "activations"):
        props[name] = "null"
    del props["schema"]  # files before the schema was written
    meta = FileMetadata.from_props(props, "f.onnx", ModelRejected, GRAPH)
    assert meta.ood is None and meta.architecture is None and meta.metrics == Metrics()
    assert meta.taps == Taps() and meta.schema == 1


def test_schema_2_block_outputs_and_parts_become_typed_taps():
    props = {**full().to_props(), "schema": "2", "activations": json.dumps(
        {"outputs": ["act.stem", "act.layer1.0"], "parts": {"act.layer1.0": {"branch": "b"}},
         "features": "features", "cam_layer": "act.layer1.0", "fc_weight": "fc.weight", "fc_bias": "fc.bias"})}
    meta = FileMetadata.from_props(props, "f.onnx", ModelRejected, GRAPH)
    assert meta.taps == full().taps


def test_another_tools_file_has_no_metadata_of_ours():
    assert FileMetadata.from_props({"author": "someone"}, "f.onnx", ModelRejected, GRAPH) is None


@pytest.mark.parametrize("name, text, reason", [
    ("metrics", "[1, 2]", "metadata 'metrics' should be a dict, not list"),
    ("params", "true", "metadata 'params' should be an int, not bool"),
    ("labels", "null", "metadata 'labels' should be a list, not NoneType"),
    ("weights", "{not json", "metadata 'weights' is not valid JSON"),
    ("schema", str(FILE_SCHEMA + 1), f"file schema {FILE_SCHEMA + 1}; this version reads up to {FILE_SCHEMA}"),
    ("preprocess", '{"resize": 32, "crop": 28, "mean": [0.5, 0.5, 0.5], "std": [1, 1, 1]}', "does not fit a 1-channel"),
    ("architecture", '{"stages": "many"}', "metadata 'architecture' does not describe a residual network"),
    ("weights", '{"trained": "yes"}', "'weights.trained' should be true or false"),
])
def test_wrong_entries_are_refused_with_one_line(name, text, reason):
    props = {**full().to_props(), name: text}
    with pytest.raises(ModelRejected) as refused:
        FileMetadata.from_props(props, "f.onnx", ModelRejected, GRAPH)
    assert reason in str(refused.value) and "\n" not in str(refused.value)


def test_updates_name_only_contract_fields():
    assert encode({"metrics": {"onnx_top1": 0.5}}) == {"metrics": '{"onnx_top1": 0.5}'}
    with pytest.raises(KeyError, match="accuracy"):
        encode({"accuracy": 0.5})
