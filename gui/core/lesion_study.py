"""The Veit et al. (2016) experiment: top-1 accuracy with each single block removed (Qt-free, torch-free)."""

from __future__ import annotations

import numpy as np

from .engine import Engine
from .lesion import removable_blocks
from .model_file import ModelInfo

IMAGES_PER_RUN = 256


def predicted(engine: Engine, info: ModelInfo, inputs: np.ndarray, removed: frozenset[str] = frozenset()) -> np.ndarray:
    """The top class of every model input, with ``removed`` taken out."""
    classes = []
    for start in range(0, len(inputs), IMAGES_PER_RUN):
        _, (raw,) = engine.pool.run(info, inputs[start:start + IMAGES_PER_RUN], [info.output.name], removed=removed)
        classes.append(np.argmax(info.output.probabilities(raw), axis=1))
    return np.concatenate(classes)


def sweep(engine: Engine, info: ModelInfo, inputs: np.ndarray, truth: np.ndarray, progress=None) -> dict:
    """The intact accuracy, then each block's: its kind, and the accuracy without it (None where it cannot go,
    with the reason). ``progress(done, total)`` is told after each block."""
    intact = float(np.mean(predicted(engine, info, inputs) == truth))
    blocks = removable_blocks(info)
    out = []
    for i, entry in enumerate(blocks):
        row = {"block": entry.block, "kind": entry.kind, "accuracy": None}
        if entry.reason:
            row["reason"] = entry.reason
        else:
            row["accuracy"] = float(np.mean(predicted(engine, info, inputs, frozenset({entry.block})) == truth))
        out.append(row)
        if progress:
            progress(i + 1, len(blocks))
    return {"model": info.name, "images": int(len(truth)), "intact_accuracy": intact, "blocks": out}
