"""How the app names a model in its lists: variant, precision, size, cost and accuracy; for a file another
tool wrote, the ResNet its graph shows and how the app reads it."""

from __future__ import annotations

from resnet_studio.core.architecture import Architecture
from resnet_studio.core.model_file import ModelInfo

# (block kind, blocks) -> the family member with that many: He et al. (2015), Table 1.
DEPTHS = {("BasicBlock", 8): "ResNet-18", ("BasicBlock", 16): "ResNet-34", ("Bottleneck", 16): "ResNet-50",
          ("Bottleneck", 33): "ResNet-101", ("Bottleneck", 50): "ResNet-152"}


def found_family(arch: Architecture | None) -> str:
    """The ResNet a found architecture is ("ResNeXt-50", "ResNet-50 v2"), or a count of its blocks."""
    if arch is None:
        return "no residual blocks"
    blocks = arch.blocks()
    kind = (arch.block or "").removesuffix(" (pre-activation)")
    pre = (arch.block or "").endswith("(pre-activation)")
    name = DEPTHS.get((kind, len(blocks)))
    if name is None:
        return f"{'pre-activation ' if pre else ''}residual network, {len(blocks)} blocks"
    convs = [layer for layer in blocks[0].layers if layer.kind == "conv"]
    if any(layer.groups > 1 for layer in convs):
        name = name.replace("ResNet", "ResNeXt")
    elif kind == "Bottleneck" and convs and convs[0].out_channels == 2 * blocks[0].out_channels // 4:
        name = "Wide " + name
    return name + (" v2" if pre else "")


def model_title(info: ModelInfo, long: bool = False) -> str:
    if info.discovery is not None:
        found = f"{found_family(info.architecture)}, {info.precision}"
        return f"{info.name} ({found})" if not long else f"{info.name} — {found} · {info.discovery.summary()}"
    adopted = info.architecture is not None and info.architecture.source == "found"  # resnet-export adopt
    variant = info.variant or (f"{found_family(info.architecture)}, adopted" if adopted else "no metadata")
    if not long:
        return f"{info.name} ({variant}, {info.precision})"
    parts = [variant, info.precision]
    if info.meta.params:
        parts.append(f"{info.meta.params / 1e6:.2f}M params")
    if info.meta.macs:
        parts.append(f"{info.meta.macs / 1e9:.3g} GMACs")
    if info.accuracy is not None:
        parts.append(f"{info.accuracy:.1%} on {info.meta.dataset or 'its test set'}")
    elif info.meta.weights.kind == "random":
        parts.append("untrained")
    return f"{info.name} — " + " · ".join(parts)
