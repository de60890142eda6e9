"""How the app names a model in its lists: variant, precision, size, cost and accuracy."""

from __future__ import annotations

from resnet_studio.core.model_file import ModelInfo


def model_title(info: ModelInfo, long: bool = False) -> str:
    if not long:
        return f"{info.name} ({info.variant or 'no metadata'}, {info.precision})"
    parts = [info.variant or "no metadata", info.precision]
    if info.params:
        parts.append(f"{info.params / 1e6:.2f}M params")
    if info.macs:
        parts.append(f"{info.macs / 1e9:.3g} GMACs")
    if info.accuracy is not None:
        parts.append(f"{info.accuracy:.1%} on {info.dataset or 'its test set'}")
    elif info.has_metadata and info.weights.get("source") == "random":
        parts.append("untrained")
    return f"{info.name} — " + " · ".join(parts)
