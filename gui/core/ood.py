"""Does an image look like the model's training data? Mahalanobis distance on the pooled features.

Lee, Lee, Lee and Shin, "A Simple Unified Framework for Detecting Out-of-Distribution Samples
and Adversarial Attacks", NeurIPS 2018: fit one mean per class and one covariance shared by all
classes to the penultimate features of the training set; an input's score is its squared
Mahalanobis distance to the nearest class mean. Here the features are the globally pooled
output of the last stage (the ONNX file's ``features`` output), and the threshold is the score
that a chosen share of held-in images stays under. Everything a reader needs is in the file's
``ood`` metadata, so any program can apply it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

METHOD = "mahalanobis"
REFERENCE = "Lee et al., NeurIPS 2018"
SHRINKAGE = 1e-3  # of the mean variance, added to the diagonal: the covariance of ReLU features can be singular


@dataclass
class OutOfDistribution:
    means: np.ndarray  # [classes, features]
    precision: np.ndarray  # [features, features], the inverse of the shared covariance
    threshold: float
    description: str  # what the training data was, for the warning a user reads

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of each row of ``features`` to its nearest class mean."""
        centred = features.astype(np.float64)[:, None, :] - self.means[None]
        return np.einsum("ncd,de,nce->nc", centred, self.precision, centred, optimize=True).min(axis=1)

    def to_metadata(self) -> dict[str, Any]:
        return {"method": METHOD, "reference": REFERENCE, "layer": "features", "threshold": self.threshold,
                "description": self.description, "means": np.round(self.means, 6).tolist(),
                "precision": np.round(self.precision, 6).tolist()}

    @classmethod
    def from_metadata(cls, meta: Any, classes: int) -> OutOfDistribution | None:
        """The parameters a file states, or None when they are absent or do not fit its classes."""
        if not isinstance(meta, dict) or meta.get("method") != METHOD:
            return None
        try:
            means = np.asarray(meta["means"], dtype=np.float64)
            precision = np.asarray(meta["precision"], dtype=np.float64)
            threshold = float(meta["threshold"])
        except (KeyError, TypeError, ValueError):
            return None
        # One centre per class, or fewer: a calibration folder without labels has a single one.
        fits = (means.ndim == 2 and 1 <= means.shape[0] <= classes and precision.shape == (means.shape[1],) * 2
                and math.isfinite(threshold) and np.isfinite(means).all() and np.isfinite(precision).all())
        description = meta.get("description")
        return cls(means, precision, threshold, description if isinstance(description, str) else "") if fits else None


def fit(features: np.ndarray, labels: np.ndarray, classes: int,
        shrinkage: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Class means and the precision of the shared (tied) covariance, from training features.

    ``shrinkage`` blends the covariance towards its mean variance on the diagonal; few images
    in many dimensions need much of it (``small_sample_shrinkage``). A small ridge is always added.
    """
    features = features.astype(np.float64)
    means = np.stack([features[labels == c].mean(axis=0) for c in range(classes)])
    centred = features - means[labels]
    covariance = centred.T @ centred / len(features)
    spherical = np.eye(len(covariance)) * np.trace(covariance) / len(covariance)
    return means, np.linalg.inv((1 - shrinkage) * covariance + shrinkage * spherical + SHRINKAGE * spherical)


def small_sample_shrinkage(images: int, dimensions: int) -> float:
    """dims / (dims + n): a sample covariance of n < dims images is singular and must lean on the diagonal."""
    return dimensions / (dimensions + images)


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """Area under the ROC curve for telling ``outside`` scores (higher) from ``inside`` ones."""
    ranks = np.concatenate([inside, outside]).argsort().argsort() + 1.0
    return float((ranks[len(inside):].sum() - len(outside) * (len(outside) + 1) / 2) / (len(inside) * len(outside)))
