"""The model file contract: what the exporter writes is what the reader reads, field by field."""

from __future__ import annotations

from dataclasses import fields

import pytest
from resnet_studio.core.file_contract import (
    FILE_SCHEMA,
    KINDS,
    ActivationOutputs,
    FileMetadata,
    encode,
)
from resnet_studio.core.model_file import ModelRejected


def full() -> FileMetadata:
    return FileMetadata(
        labels=["cat", "dog"], preprocess={"resize": 32, "crop": 28, "mean": [0.5], "std": [0.25], "color": "L"},
        variant="resnet20", architecture={"blocks": []}, weights={"source": "trained"},
        metrics={"test_top1": 0.9123}, params=272_474, macs=30_000_000, precision="int8", dataset="Fashion-MNIST",
        activations=ActivationOutputs(outputs=["act.stem", "act.layer1.0"], parts={"act.layer1.0": {"branch": "b"}},
                                      features="features", cam_layer="act.layer1.0", fc_weight="fc.weight",
                                      fc_bias="fc.bias"),
        producer={"name": "resnet-studio", "version": "0.1.0"}, ood={"method": "mahalanobis"})


def test_every_field_has_a_stored_type():
    assert set(KINDS) == {f.name for f in fields(FileMetadata)}


def test_written_fields_read_back_equal():
    meta = full()
    props = meta.to_props()
    assert props["variant"] == "resnet20" and props["schema"] == str(FILE_SCHEMA)  # text unquoted, rest JSON
    assert FileMetadata.from_props(props, "f.onnx", ModelRejected) == meta


def test_absent_or_null_optional_fields_take_their_defaults():
    props = full().to_props()
    for name in ("ood", "architecture", "metrics", "activations"):
        props[name] = "null"
    del props["schema"]  # files before the schema was written
    meta = FileMetadata.from_props(props, "f.onnx", ModelRejected)
    assert meta.ood is None and meta.architecture is None and meta.metrics == {}
    assert meta.activations == ActivationOutputs() and meta.schema == 1


def test_another_tools_file_has_no_metadata_of_ours():
    assert FileMetadata.from_props({"author": "someone"}, "f.onnx", ModelRejected) is None


@pytest.mark.parametrize("name, text, reason", [
    ("metrics", "[1, 2]", "metadata 'metrics' should be a dict, not list"),
    ("params", "true", "metadata 'params' should be an int, not bool"),
    ("labels", "null", "metadata 'labels' should be a list, not NoneType"),
    ("weights", "{not json", "metadata 'weights' is not valid JSON"),
    ("schema", str(FILE_SCHEMA + 1), f"file schema {FILE_SCHEMA + 1}; this version reads up to {FILE_SCHEMA}"),
])
def test_wrong_entries_are_refused_with_one_line(name, text, reason):
    props = {**full().to_props(), name: text}
    with pytest.raises(ModelRejected) as refused:
        FileMetadata.from_props(props, "f.onnx", ModelRejected)
    assert reason in str(refused.value) and "\n" not in str(refused.value)


def test_updates_name_only_contract_fields():
    assert encode({"metrics": {"onnx_top1": 0.5}}) == {"metrics": '{"onnx_top1": 0.5}'}
    with pytest.raises(KeyError, match="accuracy"):
        encode({"accuracy": 0.5})
