"""Plain against residual: the model files that show the degradation problem, and their curves (Qt-free).

He et al. (2015), Fig. 6: a deeper plain network trains to a higher error than a shallower one;
with identity shortcuts the deeper one does better. A file takes part when its metadata carries
the training history (``metrics.history``) and its variant is a plainN or a resnetN; a plainN and
a resnetN of the same depth, trained for the same epochs on the same data, make a pair.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from resnet_studio.core.model_file import ModelInfo

VARIANT = re.compile(r"^(plain|resnet)(\d+)$")


@dataclass
class Curves:
    epochs: np.ndarray
    train_error: np.ndarray
    test_error: np.ndarray  # NaN for epochs without a held-out measurement
    seconds: float | None  # wall time of the whole run


@dataclass
class Pair:
    depth: int
    plain: ModelInfo
    residual: ModelInfo


def curves(info: ModelInfo) -> Curves | None:
    """The per-epoch history a file states, or None when it has none or it is malformed."""
    rows = info.meta.metrics.history
    if not rows:
        return None
    return Curves(np.array([r.epoch for r in rows]), np.array([r.train_error for r in rows]),
                  np.array([math.nan if r.test_error is None else r.test_error for r in rows]), rows[-1].seconds)


def kind_and_depth(info: ModelInfo) -> tuple[str, int] | None:
    match = VARIANT.match(info.variant or "")
    return (match.group(1), int(match.group(2))) if match else None


def pairs(infos: list[ModelInfo]) -> list[Pair]:
    """Plain/residual pairs of one depth with histories of the same length, shallowest first."""
    found: dict[tuple[int, int, str | None], dict[str, ModelInfo]] = {}
    for info in infos:
        named, history = kind_and_depth(info), curves(info)
        if named is None or history is None:
            continue
        kind, depth = named
        found.setdefault((depth, len(history.epochs), info.meta.dataset), {}).setdefault(kind, info)
    return [Pair(depth, models["plain"], models["resnet"])
            for (depth, _, _), models in sorted(found.items(), key=lambda item: item[0][0])
            if "plain" in models and "resnet" in models]


def summary(pair: Pair) -> list[tuple[str, float, float, float | None]]:
    """(name, final train error, final test error, wall seconds) for the two models of a pair."""
    rows = []
    for info in (pair.plain, pair.residual):
        c = curves(info)
        rows.append((info.variant or info.name, float(c.train_error[-1]), float(c.test_error[-1]), c.seconds))
    return rows


LESION_CURVES = "lesion-curves.json"
MAX_CURVES_BYTES = 1 << 20


@dataclass
class LesionCurve:
    intact: float
    blocks: list[str]
    kinds: list[str]  # identity or projection
    accuracy: np.ndarray  # NaN where the block cannot be removed


def lesion_curve(info: ModelInfo, folder) -> LesionCurve | None:
    """The shipped lesion curve of ``info`` (Veit et al. 2016, Fig. 3), measured on these very bytes; None
    when none was measured on them (another file of the same name, say)."""
    import json
    from pathlib import Path

    path = Path(folder) / LESION_CURVES
    try:
        if path.stat().st_size > MAX_CURVES_BYTES:
            return None
        entry = json.loads(path.read_text(encoding="utf-8")).get("models", {}).get(info.path.stem)
        if not isinstance(entry, dict) or entry.get("sha256") != info.identity.sha256:
            return None
        blocks = entry["blocks"]
        return LesionCurve(float(entry["intact"]), [str(b["block"]) for b in blocks], [str(b["kind"]) for b in blocks],
                           np.array([math.nan if b["accuracy"] is None else float(b["accuracy"]) for b in blocks]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
