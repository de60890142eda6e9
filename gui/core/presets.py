"""Preprocessing for files that do not state theirs: the conventions of the tools that write ResNets,
a guess from the graph, and the user's choice for each file, remembered by its sha256.

Sources: torchvision's ``ResNet50_Weights`` transforms (resize 256, crop 224, bilinear, ImageNet mean and
std); timm's ``resnet50.a1_in1k`` pretrained config (crop_pct 0.95, bicubic) and its older 0.875 configs;
timm's ``resnetv2_50x1_bit`` (mean and std 0.5); Keras' ``applications.resnet.preprocess_input`` ("caffe":
BGR, minus the ImageNet means on 0–255, no scaling) and ``resnet_v2`` ("tf": x / 127.5 - 1), on images
squashed to the input size as ``load_img(target_size=...)`` does.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .contract_parts import Preprocess
from .local_file import open_regular, write_bytes_atomic

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939 / 255, 116.779 / 255, 123.68 / 255)


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    crop_fraction: float  # crop / resize; 1 for a squash
    mean: tuple[float, ...]
    std: tuple[float, ...]
    color: str = "RGB"
    interpolation: str = "bilinear"
    resize_mode: str = "shorter"

    def for_side(self, side: int, channels: int = 3) -> Preprocess:
        """This convention for an input of ``side`` pixels (and one channel: its mean and std, greyscale)."""
        resize = side if self.resize_mode == "squash" else int(side / self.crop_fraction)
        mean, std, color = self.mean, self.std, self.color
        if channels == 1:
            mean, std, color = mean[:1], std[:1], "L"
        return Preprocess(resize, side, mean, std, color, self.interpolation, self.resize_mode)


PRESETS = {p.name: p for p in (
    Preset("torchvision", "torchvision — crop 87.5%, bilinear, ImageNet mean/std", 224 / 256, IMAGENET_MEAN,
           IMAGENET_STD),
    Preset("timm", "timm — crop 95%, bicubic, ImageNet mean/std", 0.95, IMAGENET_MEAN, IMAGENET_STD,
           interpolation="bicubic"),
    Preset("timm-0.875", "timm-0.875 — older timm weights: crop 87.5%, bicubic", 0.875, IMAGENET_MEAN, IMAGENET_STD,
           interpolation="bicubic"),
    Preset("inception", "inception — mean and std 0.5 (timm ResNetV2 / BiT)", 0.875, (0.5,) * 3, (0.5,) * 3,
           interpolation="bicubic"),
    Preset("keras-caffe", "keras-caffe — Keras ResNet50: BGR, minus the ImageNet means, squashed", 1.0, CAFFE_MEAN_BGR,
           (1 / 255,) * 3, color="BGR", resize_mode="squash"),
    Preset("keras-tf", "keras-tf — Keras ResNet50V2: x / 127.5 − 1, squashed", 1.0, (0.5,) * 3, (0.5,) * 3,
           resize_mode="squash"),
    Preset("plain", "plain — pixels in [0, 1], no normalisation", 224 / 256, (0.0,) * 3, (1.0,) * 3),
)}
PRESET_NAMES = tuple(PRESETS)


def parse(text: str) -> str | Preprocess:
    """A preset name, or a custom preprocessing as JSON (``{"resize": 256, "crop": 224, "mean": [...],
    "std": [...], "color": "RGB", "interpolation": "bilinear", "resize_mode": "shorter"}``); ValueError
    with the reason otherwise."""
    if text in PRESETS:
        return text
    if not text.lstrip().startswith("{"):
        raise ValueError(f"{text[:40]!r} is neither a preset ({', '.join(PRESET_NAMES)}) nor a JSON object")
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("not valid JSON") from None
    return Preprocess.from_json(data, "custom preprocessing", ValueError)


def guess(layout: str, pre_activation: bool) -> str:
    """The likeliest convention for a graph: Keras writes channels last (v1 "caffe", v2 "tf"); torchvision's
    is the most common of the rest. Always shown to the user as a guess they can change."""
    if layout == "NHWC":
        return "keras-tf" if pre_activation else "keras-caffe"
    return "torchvision"


def _store() -> Path:
    root = os.environ.get("RESNET_STUDIO_CONFIG_DIR") or Path(os.environ.get("XDG_CONFIG_HOME")
                                                              or Path.home() / ".config") / "resnet-studio"
    return Path(root) / "preprocess-choices.json"


MAX_STORE_BYTES = 1024**2


def remembered(sha256: str) -> str | None:
    """The preset the user chose for the file with this sha256, if any."""
    return _read_store().get(sha256)


def remember(sha256: str, name: str) -> None:
    """Keep the user's choice for this file (written atomically; an unreadable store starts again)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preprocessing preset {name!r}; one of {', '.join(PRESET_NAMES)}")
    choices = _read_store()
    choices[sha256] = name
    path = _store()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, json.dumps(choices, indent=1, sort_keys=True).encode())


def _read_store() -> dict[str, str]:
    try:
        with open_regular(_store()) as f:
            data = json.loads(f.read(MAX_STORE_BYTES + 1) or b"{}")
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and v in PRESETS}
