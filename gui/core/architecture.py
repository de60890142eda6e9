"""A residual network as data: stem -> stages -> blocks -> layers, with shapes, parameters and MACs.

One typed description with two writers: ``models.structure.describe`` (from a built PyTorch model, for
our exports) and ``core.resnet_graph`` (found in the ONNX graph of a file we did not write). Its JSON is
the ``architecture`` entry of a model file; ``from_json`` checks every field a reader uses, so a
malformed entry is refused with one line instead of drawn wrong.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1
LAYER_KINDS = ("conv", "norm", "relu", "maxpool", "avgpool", "add", "linear")
SHORTCUT_TYPES = ("identity", "projection", "none")


class ArchitectureError(ValueError):
    """Why an ``architecture`` entry cannot be used; ``str()`` names the first bad field."""


def _int(data: dict, key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ArchitectureError(f"{where}: '{key}' should be a whole number")
    return value


def _str(data: dict, key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ArchitectureError(f"{where}: '{key}' should be text")
    return value


def _shape(data: dict, key: str, where: str) -> list[int]:
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ArchitectureError(f"{where}: '{key}' should be a list of whole numbers")
    return list(value)


def _list(data: dict, key: str, where: str) -> list:
    value = data.get(key)
    if not isinstance(value, list):
        raise ArchitectureError(f"{where}: '{key}' should be a list")
    return value


def _dict(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ArchitectureError(f"{where} should be an object")
    return value


@dataclass
class Layer:
    name: str
    kind: str  # one of LAYER_KINDS
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    groups: int
    params: int
    macs: int
    output_shape: list[int]
    norm: str | None = None  # the norm layer's type (BatchNorm2d, BatchNormalization, ...)

    @classmethod
    def from_json(cls, data: Any, where: str) -> Layer:
        data = _dict(data, where)
        kind = _str(data, "kind", where)
        if kind not in LAYER_KINDS:
            raise ArchitectureError(f"{where}: unknown layer kind {kind[:40]!r}")
        norm = data.get("norm")
        return cls(_str(data, "name", where), kind, *(_int(data, k, where) for k in (
            "in_channels", "out_channels", "kernel", "stride", "groups", "params", "macs")),
            _shape(data, "output_shape", where), norm if isinstance(norm, str) else None)


@dataclass
class Shortcut:
    type: str  # identity, projection, or none (a plain network's block)
    stride: int
    layers: list[Layer] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any, where: str) -> Shortcut:
        data = _dict(data, where)
        kind = _str(data, "type", where)
        if kind not in SHORTCUT_TYPES:
            raise ArchitectureError(f"{where}: unknown shortcut type {kind[:40]!r}")
        return cls(kind, _int(data, "stride", where),
                   [Layer.from_json(l, f"{where}.layers[{i}]") for i, l in enumerate(_list(data, "layers", where))])


@dataclass
class Block:
    name: str  # layerS.B, torchvision's naming, also for blocks found in another tool's graph
    type: str  # BasicBlock, Bottleneck, or a found block's description
    in_channels: int
    out_channels: int
    stride: int
    groups: int
    layers: list[Layer]
    shortcut: Shortcut
    output_shape: list[int]
    params: int
    macs: int
    width: int | None = None

    @property
    def residual(self) -> bool:
        return self.shortcut.type != "none"

    @classmethod
    def from_json(cls, data: Any, where: str) -> Block:
        data = _dict(data, where)
        name = _str(data, "name", where)
        here = f"{where} ({name[:40]})"
        width = data.get("width")
        return cls(name, _str(data, "type", here), _int(data, "in_channels", here), _int(data, "out_channels", here),
                   _int(data, "stride", here) if "stride" in data else 1,
                   _int(data, "groups", here) if "groups" in data else 1,
                   [Layer.from_json(l, f"{here}.layers[{i}]") for i, l in enumerate(_list(data, "layers", here))],
                   Shortcut.from_json(data.get("shortcut"), f"{here}.shortcut"), _shape(data, "output_shape", here),
                   _int(data, "params", here), _int(data, "macs", here),
                   width if isinstance(width, int) and not isinstance(width, bool) else None)


@dataclass
class Stage:
    name: str
    blocks: list[Block]
    output_shape: list[int]
    params: int
    macs: int

    @classmethod
    def from_json(cls, data: Any, where: str) -> Stage:
        data = _dict(data, where)
        return cls(_str(data, "name", where),
                   [Block.from_json(b, f"{where}.blocks[{i}]") for i, b in enumerate(_list(data, "blocks", where))],
                   _shape(data, "output_shape", where), _int(data, "params", where), _int(data, "macs", where))


@dataclass
class Part:
    """The stem or the head: a named run of layers."""

    name: str
    layers: list[Layer]
    output_shape: list[int]
    params: int
    macs: int

    @classmethod
    def from_json(cls, data: Any, where: str) -> Part:
        data = _dict(data, where)
        return cls(_str(data, "name", where),
                   [Layer.from_json(l, f"{where}.layers[{i}]") for i, l in enumerate(_list(data, "layers", where))],
                   _shape(data, "output_shape", where), _int(data, "params", where), _int(data, "macs", where))


@dataclass
class Architecture:
    input_shape: list[int]  # [C, H, W]
    stem: Part
    stages: list[Stage]
    head: Part  # global pool, then the classifier
    num_classes: int
    params: int
    macs: int
    variant: str | None = None
    block: str | None = None
    residual: bool = True
    stride_in_1x1: bool = False
    # "declared" by the file's writer, or "found" in the graph by core.resnet_graph
    source: str = "declared"
    notes: list[str] = field(default_factory=list)  # what graph analysis saw: layout, folded norms, ...
    schema: int = SCHEMA_VERSION

    def blocks(self) -> list[Block]:
        return [block for stage in self.stages for block in stage.blocks]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, where: str = "architecture") -> Architecture:
        data = _dict(data, where)
        stages = [Stage.from_json(s, f"{where}.stages[{i}]") for i, s in enumerate(_list(data, "stages", where))]
        variant, block = data.get("variant"), data.get("block")
        notes = data.get("notes")
        return cls(_shape(data, "input_shape", where), Part.from_json(data.get("stem"), f"{where}.stem"), stages,
                   Part.from_json(data.get("head"), f"{where}.head"), _int(data, "num_classes", where),
                   _int(data, "params", where), _int(data, "macs", where),
                   variant if isinstance(variant, str) else None, block if isinstance(block, str) else None,
                   data.get("residual", True) is not False, data.get("stride_in_1x1") is True,
                   "found" if data.get("source") == "found" else "declared",
                   [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else [])
