"""What a model file says about itself: one typed definition that the exporter writes and the reader checks.

Each field of ``FileMetadata`` is one ONNX ``metadata_props`` entry: text fields as they are, everything
else as JSON, each typed part through its own ``to_json`` and checking ``from_json``. The reader refuses
a file whose ``schema`` is newer than ``FILE_SCHEMA`` and any entry of the wrong type, with a one-line
reason; it ignores entries it does not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from .architecture import Architecture, ArchitectureError
from .contract_parts import Metrics, Preprocess, Taps, Weights
from .model_io import GraphIO

# 2: accuracies are fractions everywhere, and blocks carry their F(x) and shortcut outputs ("activations.parts").
# 3: the taps are typed: each block's input, branch, shortcut and output by role ("activations.taps"), and a
#    file adopted from another tool says how its graph takes and gives tensors ("io").
FILE_SCHEMA = 3
PRECISIONS = ("fp32", "fp16", "int8")  # what our exporter writes: the file's 'precision'


@dataclass
class GraphFacts:
    """What the reader knows of the graph before it reads the metadata, to check the metadata against."""

    outputs: set[str]
    initializers: set[str]
    channels: int


@dataclass
class FileMetadata:
    labels: list[str]
    preprocess: Preprocess
    schema: int = FILE_SCHEMA
    variant: str | None = None
    architecture: Architecture | None = None
    weights: Weights = field(default_factory=Weights)
    metrics: Metrics = field(default_factory=Metrics)
    params: int | None = None
    macs: int | None = None
    precision: str = "fp32"
    dataset: str | None = None
    taps: Taps = field(default_factory=Taps)  # stored as the "activations" entry
    producer: dict[str, Any] = field(default_factory=dict)
    ood: dict[str, Any] | None = None  # core.ood.OutOfDistribution.to_metadata() and its provenance
    io: GraphIO | None = None  # a file adopted from another tool: its layout and class output

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` entries, absent fields left out."""
        entries = {KEYS.get(f.name, f.name): getattr(self, f.name) for f in fields(self)}
        return encode({key: value for key, value in entries.items() if value is not None})

    @classmethod
    def from_props(cls, props: dict[str, str], where: str, error: type[Exception],
                   graph: GraphFacts) -> FileMetadata | None:
        """The metadata of one of our files, checked against its graph; None for a file without it."""
        if "labels" not in props or "preprocess" not in props:
            return None
        values = {name: _decode(props, name, where, error) for name in KINDS if name in props}
        values = {name: value for name, value in values.items() if value is not None}  # null: the default
        schema = values.get("schema", 1)
        if schema > FILE_SCHEMA:
            raise error(f"{where}: written by a newer ResNet Studio (file schema {schema}; this version reads "
                        f"up to {FILE_SCHEMA}): update resnet-studio to open it")
        values["schema"] = schema
        values["preprocess"] = Preprocess.from_json(values["preprocess"], f"{where}: metadata", error, graph.channels)
        values["weights"] = Weights.from_json(values.get("weights", {}), f"{where}: metadata", error)
        values["metrics"] = Metrics.from_json(values.get("metrics", {}), f"{where}: metadata", error)
        values["taps"] = Taps.from_json(values.pop("activations", {}), graph.outputs, graph.initializers)
        if "io" in values:
            values["io"] = GraphIO.from_json(values["io"], f"{where}", error)
        if "architecture" in values:
            try:
                values["architecture"] = Architecture.from_json(values["architecture"])
            except ArchitectureError as exc:
                raise error(f"{where}: metadata 'architecture' does not describe a residual network ({exc})") from None
        return cls(**values)


# Field names whose metadata key differs (the key predates the field).
KEYS = {"taps": "activations"}
# The JSON type of each entry; text entries are stored without JSON quoting.
KINDS: dict[str, type] = {"labels": list, "preprocess": dict, "schema": int, "variant": str, "architecture": dict,
                          "weights": dict, "metrics": dict, "params": int, "macs": int, "precision": str,
                          "dataset": str, "activations": dict, "producer": dict, "ood": dict, "io": dict}


def producer_version() -> str:
    """This package's version, as a file records who wrote it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("resnet-studio")
    except PackageNotFoundError:
        return "unknown"


def encode(entries: dict[str, Any]) -> dict[str, str]:
    """``metadata_props`` text for some entries (a whole file, or an update of a few)."""
    unknown = set(entries) - set(KINDS)
    if unknown:
        raise KeyError(f"not entries of the model file contract: {sorted(unknown)}")
    return {name: value if KINDS[name] is str and isinstance(value, str)
            else json.dumps(value.to_json() if hasattr(value, "to_json") else value)
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
