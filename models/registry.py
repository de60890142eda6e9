"""The one registry of variants that the export CLI, the app and the tests all read."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_studio.core.presets import IMAGENET_MEAN, IMAGENET_STD  # noqa: F401 - read by folder and the exporter

CHECKPOINT_BASE = "https://download.pytorch.org/models/"
# A mirror of torchvision's model folder (a company proxy, or a local server) replaces CHECKPOINT_BASE.
MIRROR_ENV = "RESNET_STUDIO_WEIGHTS_MIRROR"


def hub_checkpoint_dir() -> Path:
    """torch.hub's checkpoint cache, found the way torch.hub finds it, without importing torch."""
    cache = os.environ.get("XDG_CACHE_HOME", "~/.cache")
    torch_home = os.path.expanduser(os.environ.get("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(torch_home) / "hub" / "checkpoints"


@dataclass(frozen=True)
class ImageNetWeights:
    """One of torchvision's published checkpoints and the preprocessing it was evaluated with.

    The hex suffix of ``file`` is the start of the file's sha256, which the loader checks.
    Figures are torchvision's published ImageNet-1k top-1 accuracies.
    """

    file: str
    acc1: float
    resize: int
    crop: int = 224

    @property
    def url(self) -> str:
        base = os.environ.get(MIRROR_ENV) or CHECKPOINT_BASE
        return base.rstrip("/") + "/" + self.file

    @property
    def cache_path(self) -> Path:
        return hub_checkpoint_dir() / self.file

    @property
    def sha256_prefix(self) -> str:
        return self.file.rsplit("-", 1)[1].split(".", 1)[0]


@dataclass(frozen=True)
class Variant:
    name: str
    family: str  # "imagenet" (224 px, 7x7 stem) or "small" (28-32 px, 3x3 stem)
    block: str  # "BasicBlock" or "Bottleneck"
    layers: tuple[int, ...]
    stage_planes: tuple[int, ...]
    groups: int = 1
    width_per_group: int | None = None
    input_size: int = 224
    in_channels: int = 3
    num_classes: int = 1000
    imagenet: dict[str, ImageNetWeights] = field(default_factory=dict)
    summary: str = ""
    residual: bool = True

    @property
    def stem(self) -> str:
        return "imagenet" if self.family == "imagenet" else "small"

    @property
    def weight_sources(self) -> list[str]:
        sources = ["random"]
        if self.imagenet:
            sources.append("imagenet")
            sources.extend(f"imagenet-{version}" for version in self.imagenet)
        return sources

    def params(self, num_classes: int | None = None) -> int:
        return self._count(self.input_size, num_classes)[0]

    def checkpoint_bytes(self) -> int:
        """About what a float32 state dict of this variant weighs: parameters plus BN running stats."""
        return 4 * self._count(self.input_size, None)[2] + 4 * self.params()

    def macs(self, input_size: int | None = None, num_classes: int | None = None) -> int:
        return self._count(input_size or self.input_size, num_classes)[1]

    def _count(self, size: int, num_classes: int | None) -> tuple[int, int, int]:
        """Parameters, MACs and BN running-stat values from the config alone, without building the model.

        ``structure.describe`` computes the same figures from a built model; the tests hold them equal.
        """
        params = macs = stats = 0

        def conv(cin: int, cout: int, k: int, stride: int, groups: int = 1) -> None:
            nonlocal params, macs, stats, size
            size = (size + 2 * (k // 2) - k) // stride + 1
            params += cout * (cin // groups) * k * k + 2 * cout  # the conv and its norm layer
            stats += 2 * cout  # the norm layer's running mean and variance
            macs += cout * size * size * (cin // groups) * k * k

        inplanes = self.stage_planes[0]
        if self.family == "imagenet":
            conv(self.in_channels, inplanes, 7, 2)
            size = (size + 2 - 3) // 2 + 1  # 3x3/2 max-pool
        else:
            conv(self.in_channels, inplanes, 3, 1)
        expansion = 4 if self.block == "Bottleneck" else 1
        base_width = (self.width_per_group or self.stage_planes[0]) * 64 // self.stage_planes[0]
        for index, (planes, depth) in enumerate(zip(self.stage_planes, self.layers)):
            for block in range(depth):
                stride = 2 if index > 0 and block == 0 else 1
                entry = size
                if self.residual and (stride != 1 or inplanes != planes * expansion):
                    conv(inplanes, planes * expansion, 1, stride)
                    size = entry
                if self.block == "Bottleneck":
                    width = int(planes * (base_width / 64.0)) * self.groups
                    conv(inplanes, width, 1, 1)
                    conv(width, width, 3, stride, self.groups)
                    conv(width, planes * expansion, 1, 1)
                else:
                    conv(inplanes, planes, 3, stride)
                    conv(planes, planes, 3, 1)
                inplanes = planes * expansion
        classes = num_classes or self.num_classes
        return params + inplanes * classes + classes, macs + inplanes * classes, stats


def _imagenet(name, block, layers, v1, v2=None, groups=1, width_per_group=None, summary="", v1_resize=256):
    weights = {"v1": ImageNetWeights(v1[0], v1[1], resize=v1_resize)}
    if v2:
        weights["v2"] = ImageNetWeights(v2[0], v2[1], resize=232)
    return Variant(
        name, "imagenet", block, tuple(layers), (64, 128, 256, 512), groups=groups,
        width_per_group=width_per_group, imagenet=weights, summary=summary,
    )


def _small(name, block, layers, groups=1, width_per_group=None, summary="", residual=True):
    return Variant(
        name, "small", block, tuple(layers), (16, 32, 64), groups=groups, width_per_group=width_per_group,
        input_size=28, in_channels=1, num_classes=10, summary=summary, residual=residual,
    )


_VARIANTS = [
    _imagenet("resnet18", "BasicBlock", [2, 2, 2, 2], ("resnet18-f37072fd.pth", 69.758),
              summary="ResNet-18, He et al. 2015"),
    _imagenet("resnet34", "BasicBlock", [3, 4, 6, 3], ("resnet34-b627a593.pth", 73.314),
              summary="ResNet-34, He et al. 2015"),
    _imagenet("resnet50", "Bottleneck", [3, 4, 6, 3], ("resnet50-0676ba61.pth", 76.130),
              ("resnet50-11ad3fa6.pth", 80.858), summary="ResNet-50, He et al. 2015"),
    _imagenet("resnet101", "Bottleneck", [3, 4, 23, 3], ("resnet101-63fe2227.pth", 77.374),
              ("resnet101-cd907fc2.pth", 81.886), summary="ResNet-101, He et al. 2015"),
    _imagenet("resnet152", "Bottleneck", [3, 8, 36, 3], ("resnet152-394f9c45.pth", 78.312),
              ("resnet152-f82ba261.pth", 82.284), summary="ResNet-152, He et al. 2015"),
    _imagenet("resnext50_32x4d", "Bottleneck", [3, 4, 6, 3], ("resnext50_32x4d-7cdf4587.pth", 77.618),
              ("resnext50_32x4d-1a0047aa.pth", 81.198), groups=32, width_per_group=4,
              summary="ResNeXt-50 32x4d, Xie et al. 2017"),
    _imagenet("resnext101_32x8d", "Bottleneck", [3, 4, 23, 3], ("resnext101_32x8d-8ba56ff5.pth", 79.312),
              ("resnext101_32x8d-110c445d.pth", 82.834), groups=32, width_per_group=8,
              summary="ResNeXt-101 32x8d, Xie et al. 2017"),
    # torchvision's only file for this one was trained with the V2 recipe, hence resize 232.
    _imagenet("resnext101_64x4d", "Bottleneck", [3, 4, 23, 3], ("resnext101_64x4d-173b62eb.pth", 83.246),
              groups=64, width_per_group=4, v1_resize=232, summary="ResNeXt-101 64x4d, Xie et al. 2017"),
    _imagenet("wide_resnet50_2", "Bottleneck", [3, 4, 6, 3], ("wide_resnet50_2-95faca4d.pth", 78.468),
              ("wide_resnet50_2-9ba9bcbe.pth", 81.602), width_per_group=128,
              summary="Wide ResNet-50-2, Zagoruyko & Komodakis 2016"),
    _imagenet("wide_resnet101_2", "Bottleneck", [3, 4, 23, 3], ("wide_resnet101_2-32ee1156.pth", 78.848),
              ("wide_resnet101_2-d733dc28.pth", 82.510), width_per_group=128,
              summary="Wide ResNet-101-2, Zagoruyko & Komodakis 2016"),
    # He et al. 2015 §4.2: 6n+2 layers, 3x3 stem, stages of 16/32/64 channels.
    *(_small(f"resnet{6 * n + 2}", "BasicBlock", [n, n, n], summary=f"ResNet-{6 * n + 2} (n={n}), He et al. 2015 §4.2")
      for n in (3, 5, 7, 9, 18)),
    # The same networks with every shortcut removed (He et al. 2015, Fig. 6 left): the degradation problem.
    *(_small(f"plain{6 * n + 2}", "BasicBlock", [n, n, n], residual=False,
             summary=f"Plain-{6 * n + 2}: ResNet-{6 * n + 2} without shortcuts, He et al. 2015 Fig. 6")
      for n in (3, 9)),
    # A narrow ResNeXt-29 (Xie et al. 2017, §5.3 layout: 3 stages of 3 bottlenecks) sized for 28 px.
    # Cardinality and width are options of build_model (groups=, width_per_group=).
    _small("resnext29_8x4d", "Bottleneck", [3, 3, 3], groups=8, width_per_group=4,
           summary="ResNeXt-29 8x4d on a 16-channel stem, after Xie et al. 2017"),
]

VARIANTS: dict[str, Variant] = {v.name: v for v in _VARIANTS}


class UnknownVariantError(KeyError):
    def __str__(self) -> str:
        return self.args[0]


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        close = difflib.get_close_matches(name, VARIANTS, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(VARIANTS)}"
        raise UnknownVariantError(f"unknown variant {name!r}{hint}") from None


def build_model(name: str, *, num_classes: int | None = None, in_channels: int | None = None,
                groups: int | None = None, width_per_group: int | None = None, **options: Any):
    """Build a registry variant with random (He) initialisation.

    ``options`` go to ``ResNet`` (``zero_init_residual``, ``stride_in_1x1``, ``norm_layer``).
    """
    from .resnet import BasicBlock, Bottleneck, ResNet

    variant = get_variant(name)
    return ResNet(
        BasicBlock if variant.block == "BasicBlock" else Bottleneck,
        variant.layers,
        num_classes=num_classes or variant.num_classes,
        groups=groups or variant.groups,
        width_per_group=width_per_group or variant.width_per_group,
        stage_planes=variant.stage_planes,
        stem=variant.stem,
        in_channels=in_channels or variant.in_channels,
        residual=variant.residual,
        **options,
    )
