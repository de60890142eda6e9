"""The typed parts of the model file contract: preprocessing, weights, metrics, the out-of-distribution
parameters and the taps (what each block's tensors are called). Each part has one dataclass with a
checking ``from_json``; a reader never looks a key up in a plain dict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .limits import MAX_INPUT_SIDE

INTERPOLATIONS = ("bilinear", "bicubic", "nearest")
COLORS = ("RGB", "BGR", "L")
RESIZE_MODES = ("shorter", "squash")  # shorter side then centre crop (torchvision), or straight to the crop (Keras)
TOP1_KEYS = ("onnx_top1", "test_top1", "validation_top1", "imagenet_top1")
ROLES = ("input", "branch", "shortcut", "output")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Preprocess:
    """How an image becomes the model's input: resize, crop, scale to [0, 1], then (x - mean) / std."""

    resize: int
    crop: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    color: str = "RGB"
    interpolation: str = "bilinear"
    resize_mode: str = "shorter"

    @property
    def channels(self) -> int:
        return 1 if self.color == "L" else 3

    @property
    def decode_mode(self) -> str:
        """The Pillow mode an image is decoded to (BGR is RGB reordered later)."""
        return "L" if self.color == "L" else "RGB"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data

    @classmethod
    def from_json(cls, data: Any, where: str, error: type[Exception], channels: int | None = None) -> Preprocess:
        """Checked: every field of the right type, finite, and fitting a ``channels``-channel input."""
        if not isinstance(data, dict):
            raise error(f"{where}: 'preprocess' should be an object")
        try:
            made = cls(int(data["resize"]), int(data["crop"]), tuple(float(v) for v in data["mean"]),
                       tuple(float(v) for v in data["std"]), str(data.get("color", "RGB")),
                       str(data.get("interpolation", "bilinear")), str(data.get("resize_mode", "shorter")))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise error(f"{where}: 'preprocess' is incomplete or mistyped ({exc})") from None
        made.check(where, error, channels)
        return made

    def check(self, where: str, error: type[Exception], channels: int | None = None) -> None:
        if not all(math.isfinite(v) for v in self.mean + self.std):
            raise error(f"{where}: 'preprocess' has a mean or std that is not a finite number")
        if not (1 <= self.crop <= self.resize <= MAX_INPUT_SIDE):
            raise error(f"{where}: 'preprocess' has resize {self.resize} and crop {self.crop}")
        if self.color not in COLORS or self.interpolation not in INTERPOLATIONS or self.resize_mode not in RESIZE_MODES:
            raise error(f"{where}: 'preprocess' names an unknown color, interpolation or resize mode "
                        f"({self.color[:20]}, {self.interpolation[:20]}, {self.resize_mode[:20]})")
        wanted = self.channels if channels is None else channels
        if self.channels != wanted or len(self.mean) != wanted or len(self.std) != wanted or min(self.std) <= 0:
            raise error(f"{where}: 'preprocess' ({self.color}, {len(self.mean)} means) does not fit a {wanted}-channel "
                        f"input")


@dataclass(frozen=True)
class Weights:
    """Where a model's weights came from, as the exporter recorded it."""

    source: str = "unknown"  # random, imagenet-v1, imagenet-v2, trained, file
    trained: bool | None = None
    file: str | None = None
    sha256: str | None = None
    dataset: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # url, command, init, ... kept as written

    @property
    def kind(self) -> str:
        """random, imagenet or trained: how the app groups and describes a model."""
        if self.source == "random" or self.trained is False:
            return "random"
        return "imagenet" if self.source.startswith("imagenet") else "trained"

    def describe(self, dataset: str | None) -> str:
        """What a user should read next to every prediction."""
        if self.kind == "random":
            return "untrained (random weights): predictions are meaningless"
        if self.source == "trained":
            return f"trained on {dataset or self.dataset or 'a custom dataset'}"
        if self.kind == "imagenet":
            return f"torchvision ImageNet weights ({self.source})"
        return f"weights from {self.file or self.source}"

    def to_json(self) -> dict[str, Any]:
        known = {k: v for k, v in asdict(self).items() if k != "extra" and v is not None}
        return {**self.extra, **known}

    @classmethod
    def from_json(cls, data: dict, where: str, error: type[Exception]) -> Weights:
        def text(key):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise error(f"{where}: 'weights.{key}' should be text")
            return value

        trained = data.get("trained")
        if trained is not None and not isinstance(trained, bool):
            raise error(f"{where}: 'weights.trained' should be true or false")
        names = ("source", "trained", "file", "sha256", "dataset")
        return cls(text("source") or "unknown", trained, text("file"), text("sha256"), text("dataset"),
                   {k: v for k, v in data.items() if k not in names})


@dataclass(frozen=True)
class HistoryRow:
    epoch: int
    train_error: float
    test_error: float | None
    seconds: float | None
    responses: tuple[float, ...] = ()


@dataclass(frozen=True)
class Metrics:
    """What was measured: top-1 figures (fractions), the training history, the verification."""

    values: dict[str, Any] = field(default_factory=dict)

    def top1(self, schema: int) -> float | None:
        """Top-1 as a fraction, the unit schema 2 and later store; schema 1 stored ImageNet's as a percent."""
        for key in TOP1_KEYS:
            value = self.values.get(key)
            if _number(value):
                if schema < 2 and key == "imagenet_top1" and 1 < value <= 100:
                    return value / 100
                if 0 <= value <= 1:
                    return float(value)
        return None

    @property
    def history(self) -> list[HistoryRow]:
        """The per-epoch rows, each checked; a malformed history is an empty one."""
        rows = self.values.get("history")
        if not isinstance(rows, list):
            return []
        out = []
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("epoch"), int):
                return []
            responses = row.get("responses") if isinstance(row.get("responses"), list) else []
            out.append(HistoryRow(row["epoch"], float(row["train_error"]) if _number(row.get("train_error")) else math.nan,
                                  float(row["test_error"]) if _number(row.get("test_error")) else None,
                                  float(row["seconds"]) if _number(row.get("seconds")) else None,
                                  tuple(float(v) for v in responses if _number(v))))
        return out

    def to_json(self) -> dict[str, Any]:
        return dict(self.values)

    @classmethod
    def from_json(cls, data: dict, where: str, error: type[Exception]) -> Metrics:
        for key in TOP1_KEYS:
            if key in data and data[key] is not None and not _number(data[key]):
                raise error(f"{where}: 'metrics.{key}' should be a number")
        return cls(dict(data))


@dataclass(frozen=True)
class Tap:
    """One tensor of one block, by its role: the block's input, its branch F(x), its shortcut, its output."""

    block: str  # layerS.B
    role: str  # one of ROLES
    tensor: str  # the graph tensor's name


@dataclass
class Taps:
    """Every tensor the app reads besides the classes, by block and role; the views ask for a role, never a name."""

    taps: list[Tap] = field(default_factory=list)
    stem: str | None = None
    features: str | None = None  # the pooled vector (out-of-distribution score)
    cam_layer: str | None = None  # the last feature map before the global pool
    fc_weight: str | None = None  # initializer names, where the file keeps the classifier as initializers
    fc_bias: str | None = None
    channels_last: frozenset[str] = frozenset()  # tensors kept [N, H, W, C] (a Keras graph), read transposed
    in_file: bool = True  # the taps are outputs of the file; else the session adds them in memory

    def blocks(self, role: str = "output") -> list[str]:
        """The blocks, in network order, that have a tensor for ``role``."""
        return [t.block for t in self.taps if t.role == role]

    def tensor(self, block: str, role: str) -> str | None:
        return next((t.tensor for t in self.taps if t.block == block and t.role == role), None)

    def has(self, block: str, *roles: str) -> bool:
        return all(self.tensor(block, role) for role in roles)

    def tensors(self) -> list[str]:
        """Every tensor the full session must give, stem and features included, each once."""
        names = [self.stem, *(t.tensor for t in self.taps), self.features, self.cam_layer]
        return list(dict.fromkeys(n for n in names if n))

    def as_nchw(self, tensor: str, value: np.ndarray) -> np.ndarray:
        """A tap's value in [N, C, H, W] float32, whatever layout and precision the graph keeps it in."""
        if tensor in self.channels_last and value.ndim == 4:
            value = value.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(value, dtype=np.float32)

    def to_json(self) -> dict[str, Any]:
        """The ``activations`` entry of a model file (schema 3)."""
        names = {"stem": self.stem, "features": self.features, "cam_layer": self.cam_layer,
                 "fc_weight": self.fc_weight, "fc_bias": self.fc_bias, "channels_last": sorted(self.channels_last)}
        return {"taps": [asdict(t) for t in self.taps], **{k: v for k, v in names.items() if v}}

    @classmethod
    def from_json(cls, stored: dict[str, Any], outputs: set[str], initializers: set[str]) -> Taps:
        """The taps of one of our files: its ``taps`` list, or (files before schema 3) its block outputs and
        their parts, where each block's input is the output before it. Tensors the graph lacks are dropped."""
        def present(name) -> str | None:
            return name if isinstance(name, str) and name in outputs else None

        def initializer(name) -> str | None:
            return name if isinstance(name, str) and name in initializers else None

        taps: list[Tap] = []
        listed = stored.get("taps")
        if isinstance(listed, list):
            for entry in listed:
                if isinstance(entry, dict) and entry.get("role") in ROLES and isinstance(entry.get("block"), str) \
                        and present(entry.get("tensor")):
                    taps.append(Tap(entry["block"], entry["role"], entry["tensor"]))
        else:
            blocks = [name for name in stored.get("outputs") or [] if present(name) and name != "act.stem"]
            parts = stored.get("parts") if isinstance(stored.get("parts"), dict) else {}
            before = present("act.stem")
            for name in blocks:
                block = name.removeprefix("act.")
                roles = parts.get(name) if isinstance(parts.get(name), dict) else {}
                for role, tensor in (("input", before), ("branch", roles.get("branch")),
                                     ("shortcut", roles.get("shortcut")), ("output", name)):
                    if present(tensor):
                        taps.append(Tap(block, role, tensor))
                before = name
        stem = stored.get("stem") if isinstance(listed, list) else "act.stem" if "act.stem" in (stored.get("outputs") or []) else None
        last = stored.get("channels_last") if isinstance(stored.get("channels_last"), list) else []
        return cls(taps, present(stem), present(stored.get("features")),
                   present(stored.get("cam_layer")),
                   initializer(stored.get("fc_weight")), initializer(stored.get("fc_bias")),
                   frozenset(name for name in last if present(name)))
