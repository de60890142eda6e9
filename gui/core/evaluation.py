"""Scoring a model on a labelled folder (FOLDER/CLASS/image): accuracy with its uncertainty, per-class
precision and recall, the confusion matrix, and the images it got wrong or was least sure of.
Qt-free and torch-free: the app's Train panel and ``resnet-studio evaluate`` both call ``evaluate``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .engine import Engine
from .labelled_folder import labelled_images
from .model_file import ModelInfo

SMALL_SAMPLE = 20  # below this many images an accuracy is shown with its interval
LEAST_CONFIDENT = 10  # how many of the least confident correct answers are listed


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% by default) of a proportion: unlike p ± z·SE it stays inside [0, 1]
    and is honest at 0 or n successes, which small validation sets reach often (Wilson 1927)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_text(correct: int, n: int, what: str = "accuracy") -> str:
    """"accuracy 75.0% on 8 images (95% interval 41–93%)": the interval whenever n is small."""
    if n == 0:
        return f"{what}: no images"
    text = f"{what} {correct / n:.1%} on {n} image{'s' if n != 1 else ''}"
    if n < SMALL_SAMPLE:
        low, high = wilson(correct, n)
        text += f" (95% interval {low:.0%}–{high:.0%}; few images)"
    return text


@dataclass
class Scored:
    path: str
    truth: int
    predicted: int
    confidence: float  # the probability of the predicted class
    truth_probability: float


def score_files(engine: Engine, info: ModelInfo, found: list[tuple[str, int]],
                progress: Callable[[int, int], None] | None = None) -> tuple[list[Scored], list[dict]]:
    """Every image's answer, and the images that could not be read, each with its reason."""
    truth = dict(found)
    scored, failed = [], []
    for i, result in enumerate(engine.classify_files(info, [p for p, _ in found], k=len(info.labels))):
        if not result.ok:
            failed.append({"path": result.source, "reason": result.error})
        else:
            by_class = {p.index: p.probability for p in result.predictions}
            top = result.predictions[0]
            scored.append(Scored(result.source, truth[result.source], top.index, top.probability,
                                 by_class.get(truth[result.source], 0.0)))
        if progress:
            progress(i + 1, len(found))
    return scored, failed


def report(info: ModelInfo, folder: str, scored: list[Scored], failed: list[dict]) -> dict:
    """The evaluation as ``evaluate --json`` prints it."""
    k = len(info.labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    for s in scored:
        confusion[s.truth, s.predicted] += 1
    n, correct = len(scored), int(np.trace(confusion))
    per_class = []
    for c, label in enumerate(info.labels):
        images, claimed, hits = int(confusion[c].sum()), int(confusion[:, c].sum()), int(confusion[c, c])
        if images or claimed:
            per_class.append({"label": label, "images": images, "precision": hits / claimed if claimed else None,
                              "recall": hits / images if images else None})
    low, high = wilson(correct, n)

    def image(s: Scored) -> dict:
        return {"path": s.path, "truth": info.labels[s.truth], "predicted": info.labels[s.predicted],
                "confidence": round(s.confidence, 5), "truth_probability": round(s.truth_probability, 5)}

    wrong = sorted((s for s in scored if s.predicted != s.truth), key=lambda s: s.truth_probability)
    unsure = sorted((s for s in scored if s.predicted == s.truth), key=lambda s: s.confidence)[:LEAST_CONFIDENT]
    present = [c for c in range(k) if confusion[c].sum() or confusion[:, c].sum()]
    return {"model": info.name, "folder": str(folder), "accuracy": correct / n if n else None,
            "interval": [low, high], "correct": correct, "images": n, "labels": list(info.labels),
            "classes_present": [info.labels[c] for c in present], "per_class": per_class,
            "confusion": confusion.tolist(), "misclassified": [image(s) for s in wrong],
            "least_confident": [image(s) for s in unsure], "predictions": [image(s) for s in scored],
            "failed": failed}


def evaluate(engine: Engine, info: ModelInfo, folder: str | Path,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """Classify every image of ``folder``'s class subfolders (matched to the labels by name) and report."""
    found = labelled_images(folder, list(info.labels))
    scored, failed = score_files(engine, info, found, progress)
    return report(info, str(folder), scored, failed)
