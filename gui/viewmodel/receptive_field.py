"""What part of the input one position of a block's output sees (Qt-free): the receptive field along the main
path, the longest one (He et al.'s shortcuts only ever see less), as CNN Explainer shows it on hover."""

from __future__ import annotations

from resnet_studio.core.architecture import Architecture


def receptive_field(arch: Architecture, block: str) -> tuple[int, int]:
    """(side, step) in input pixels: the receptive field of one output position of ``block`` ("stem" for the
    stem's), and how far apart neighbouring positions' fields start."""
    layers = list(arch.stem.layers)
    if block != "stem":
        for candidate in arch.blocks():
            layers += candidate.layers
            if candidate.name == block:
                break
    side, step = 1, 1
    for layer in layers:
        if layer.kind in ("conv", "maxpool") and layer.kernel:
            side += (layer.kernel - 1) * step
            step *= max(1, layer.stride)
    return side, step


def seen_input(arch: Architecture, block: str, row: int, col: int) -> str:
    """The input rows and columns one position of ``block``'s output sees, in words."""
    side, step = receptive_field(arch, block)
    _, height, width = arch.input_shape

    def span(index: int, limit: int) -> str:
        centre = index * step + (step - 1) / 2
        low, high = max(0, round(centre - (side - 1) / 2)), min(limit - 1, round(centre + (side - 1) / 2))
        return f"{low}–{high}"

    return f"sees input rows {span(row, height)}, columns {span(col, width)} (receptive field {side}×{side} px)"


def hover_text(arch: Architecture | None, block: str, what: str):
    """What the mouse over a map of ``block`` says, as ``describe(row, col, value)``: the value, where it is,
    and the input it sees (where the architecture is known)."""
    def describe(row: int, col: int, value: float) -> str:
        seen = f"; {seen_input(arch, block, row, col)}" if arch is not None else ""
        return f"{block} {what}, row {row}, column {col}: {value:.3g}{seen}"

    return describe
