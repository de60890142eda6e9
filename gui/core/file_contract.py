"""What a model file says about itself: one typed definition that the exporter writes and the reader checks.

Each field of ``FileMetadata`` is one ONNX ``metadata_props`` entry: text fields as they are, everything
else as JSON. The reader refuses a file whose ``schema`` is newer than ``FILE_SCHEMA`` and any entry of
the wrong type, with a one-line reason; it ignores entries it does not know.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# 2: accuracies are fractions everywhere, and blocks carry their F(x) and shortcut outputs ("activations.parts").
FILE_SCHEMA = 2
PRECISIONS = ("fp32", "fp16", "int8")  # what our exporter writes: the file's 'precision'


@dataclass
class ActivationOutputs:
    """The extra graph outputs the app reads: block outputs, their parts, pooled features, the CAM layer."""

    outputs: list[str] = field(default_factory=list)  # "act.stem", "act.layerS.B", ...
    parts: dict[str, dict[str, str]] = field(default_factory=dict)  # block -> {"branch": F(x), "shortcut": ...}
    features: str | None = None
    cam_layer: str | None = None
    fc_weight: str | None = None  # initializer names: the CAM weights the last block's maps with the fc row
    fc_bias: str | None = None


@dataclass
class FileMetadata:
    labels: list[str]
    preprocess: dict[str, Any]  # resize, crop, interpolation, mean, std, color
    schema: int = FILE_SCHEMA
    variant: str | None = None
    architecture: dict[str, Any] | None = None  # models.structure.describe()
    weights: dict[str, Any] = field(default_factory=dict)  # source, file, sha256, trained, ...
    metrics: dict[str, Any] = field(default_factory=dict)  # every *_top1 a fraction in [0, 1]
    params: int | None = None
    macs: int | None = None
    precision: str = "fp32"
    dataset: str | None = None
    activations: ActivationOutputs = field(default_factory=ActivationOutputs)
    producer: dict[str, Any] = field(default_factory=dict)
    ood: dict[str, Any] | None = None  # core.ood.OutOfDistribution.to_metadata() and its provenance

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` entries, absent fields left out."""
        return encode({f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None})

    @classmethod
    def from_props(cls, props: dict[str, str], where: str, error: type[Exception]) -> FileMetadata | None:
        """The metadata of one of our files, checked; None for a file without it (another tool's export)."""
        if "labels" not in props or "preprocess" not in props:
            return None
        values = {name: _decode(props, name, where, error) for name in KINDS if name in props}
        values = {name: value for name, value in values.items() if value is not None}  # null: the default
        schema = values.get("schema", 1)
        if schema > FILE_SCHEMA:
            raise error(f"{where}: written by a newer ResNet Studio (file schema {schema}; this version reads "
                        f"up to {FILE_SCHEMA}): update resnet-studio to open it")
        values["schema"] = schema
        if "activations" in values:
            known = {f.name for f in fields(ActivationOutputs)}
            values["activations"] = ActivationOutputs(**{k: v for k, v in values["activations"].items() if k in known})
        return cls(**values)


# The JSON type of each entry; text entries are stored without JSON quoting.
KINDS: dict[str, type] = {"labels": list, "preprocess": dict, "schema": int, "variant": str, "architecture": dict,
                          "weights": dict, "metrics": dict, "params": int, "macs": int, "precision": str,
                          "dataset": str, "activations": dict, "producer": dict, "ood": dict}


def encode(entries: dict[str, Any]) -> dict[str, str]:
    """``metadata_props`` text for some fields (a whole file, or an update of a few)."""
    unknown = set(entries) - set(KINDS)
    if unknown:
        raise KeyError(f"not fields of the model file contract: {sorted(unknown)}")
    return {name: value if KINDS[name] is str and isinstance(value, str)
            else json.dumps(asdict(value) if isinstance(value, ActivationOutputs) else value)
            for name, value in entries.items()}


def _decode(props: dict[str, str], name: str, where: str, error: type[Exception]) -> Any:
    kind, text = KINDS[name], props[name]
    if kind is str:
        return None if text == "null" else text
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise error(f"{where}: metadata '{name}' is not valid JSON") from None
    if value is None and name not in ("labels", "preprocess"):
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        article = "an" if kind is int else "a"
        raise error(f"{where}: metadata '{name}' should be {article} {kind.__name__}, not {type(value).__name__}")
    return value
