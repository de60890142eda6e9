"""Fit an exported classifier's out-of-distribution parameters and write them into its metadata.

The class means and the shared covariance come from the training images' pooled features;
the threshold is the score that 96% of held-in images stay under. For Fashion-MNIST models
(``python -m resnet_studio.export.ood_fit FILE...``) the statistics use all 60,000 training
images, the threshold the first 5,000 test images, and the other 5,000 report the rate that
is really flagged. ``export.trained`` fits the same way on a folder's training split.

ImageNet exports come without their training data (1.28 million images that this project
cannot ship or fetch), so a Mahalanobis fit on it is not possible here. ``--calibrate DIR``
is the honest substitute: it fits one centre to a folder of the user's own typical images
and flags what is unlike *them*, which is not the same as unlike ImageNet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from resnet_studio.core.limits import MIN_CALIBRATION_IMAGES
from resnet_studio.core.ood import OutOfDistribution, auroc, fit, small_sample_shrinkage

HELD_IN_SHARE = 0.96  # the 95th percentile flagged 5.4% of the unseen test half; this keeps it under 5%
FASHION_MNIST = "10 kinds of clothing, greyscale, on black"
MAX_FIT_IMAGES = 10_000  # enough for a covariance of 2,048 features; bounds the time on a big folder


def features_of(path: Path, samples: np.ndarray, batch: int = 128) -> np.ndarray:
    """The pooled features of ``samples``, from the graph pruned to them: with every activation
    output kept, ONNX Runtime held over 20 GB for ResNeXt-29 on 60,000 images here."""
    from .onnx_file import _cpu_session

    session = _cpu_session(path, pruned=True, also=("features",))
    return np.concatenate([session.run(["features"], {"input": samples[i:i + batch]})[0]
                           for i in range(0, len(samples), batch)])


def fit_file(path: Path, train: np.ndarray, train_labels: np.ndarray, held_in: np.ndarray, description: str,
             provenance: dict, shrink: bool = False) -> OutOfDistribution:
    """Fit on ``train``, set the threshold on ``held_in``, and record it all in the file's metadata.

    ``shrink``: lean the covariance on its diagonal as far as few images in many dimensions need.
    """
    from .onnx_file import _set_metadata

    classes = int(train_labels.max()) + 1
    features = features_of(path, train)
    means, precision = fit(features, train_labels, classes,
                           small_sample_shrinkage(len(features), features.shape[1]) if shrink else 0.0)
    ood = OutOfDistribution(means, precision, 0.0, description)
    ood.threshold = round(float(np.quantile(ood.scores(features_of(path, held_in)), HELD_IN_SHARE)), 4)
    _set_metadata(path, {"ood": {**ood.to_metadata(), **provenance, "held_in_share": HELD_IN_SHARE}})
    return ood


def fit_folder_split(path: Path, train: np.ndarray, train_labels: np.ndarray, held_in: np.ndarray,
                     classes: list[str], folder: str) -> OutOfDistribution:
    """A fine-tune on a folder (``train --data``): its training split fits, its validation split sets the line."""
    named = ", ".join(classes[:4]) + (f" and {len(classes) - 4} more" if len(classes) > 4 else "")
    keep = np.random.default_rng(0).permutation(len(train))[:MAX_FIT_IMAGES]
    return fit_file(path, train[keep], train_labels[keep], held_in,
                    f"{len(classes)} classes ({named}) from the folder {folder}",
                    {"fit": f"{len(keep)} training-split images of {folder}",
                     "threshold_on": f"the {len(held_in)} validation-split images"}, shrink=True)


def calibrate(path: Path, folder: Path, description: str | None = None) -> dict:
    """Fit one centre to a folder of typical images: every fifth sets the threshold, the rest fit."""
    from .errors import ExportError
    from .onnx_file import _set_metadata
    from .scoring import folder_samples
    from resnet_studio.core.model_file import read_model

    info = read_model(path)
    samples, skipped = folder_samples(folder, info.preprocess, limit=MAX_FIT_IMAGES)
    if len(samples) < MIN_CALIBRATION_IMAGES:
        raise ExportError(f"{folder} holds {len(samples)} readable images; calibration needs "
                          f"{MIN_CALIBRATION_IMAGES} or more")
    features = features_of(path, samples)
    held = np.arange(len(features)) % 5 == 4
    fitted = features[~held]
    means, precision = fit(fitted, np.zeros(len(fitted), dtype=int), 1,
                           small_sample_shrinkage(len(fitted), features.shape[1]))
    ood = OutOfDistribution(means, precision, 0.0, description or f"the {len(samples)} images of {folder.name}")
    ood.threshold = round(float(np.quantile(ood.scores(features[held]), HELD_IN_SHARE)), 4)
    _set_metadata(path, {"ood": {**ood.to_metadata(), "held_in_share": HELD_IN_SHARE,
                                 "fit": f"{int((~held).sum())} images of the calibration folder {folder.name}",
                                 "threshold_on": f"the other {int(held.sum())} images of that folder",
                                 "calibration": "a folder of the user's typical images, not the training data"}})
    return {"file": str(path), "images": len(samples), "skipped": len(skipped), "threshold": ood.threshold}


def fit_fashion_mnist(path: Path) -> dict:
    """Fit a Fashion-MNIST model; returns the flagged rates on the held-in and the unseen test halves."""
    from .scoring import fashion_mnist_samples
    from resnet_studio.core.model_file import read_model
    from resnet_studio.models.fashion_mnist import load_split

    preprocess = read_model(path).preprocess
    train = fashion_mnist_samples(preprocess, 60_000, split="train")
    test = fashion_mnist_samples(preprocess, 10_000, split="test")
    ood = fit_file(path, train, load_split("train")[1], test[:5000], FASHION_MNIST,
                   {"fit": "60,000 Fashion-MNIST training images", "threshold_on": "Fashion-MNIST test images 0-4,999"})
    unseen = float((ood.scores(features_of(path, test[5000:])) > ood.threshold).mean())
    return {"file": str(path), "threshold": ood.threshold, "flagged_unseen_test_half": round(unseen, 4)}


def evaluate(path: Path, folder: Path) -> dict:
    """How a fitted file does on a folder of out-of-domain images, against the unseen test half."""
    from .scoring import fashion_mnist_samples, folder_samples
    from resnet_studio.core.model_file import read_model

    info = read_model(path)
    inside = info.ood.scores(features_of(path, fashion_mnist_samples(info.preprocess, 10_000)[5000:]))
    outside = info.ood.scores(features_of(path, folder_samples(folder, info.preprocess, limit=10_000)[0]))
    return {"file": path.name, "unseen_test_flagged": round(float((inside > info.ood.threshold).mean()), 4),
            "images": len(outside), "flagged": round(float((outside > info.ood.threshold).mean()), 4),
            "auroc": round(auroc(inside, outside), 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m resnet_studio.export.ood_fit", description=__doc__)
    p.add_argument("files", nargs="+", type=Path, help="ONNX files with a 'features' output")
    p.add_argument("--evaluate", type=Path, metavar="DIR",
                   help="do not fit: report the flagged rate and AUROC of a folder of out-of-domain images")
    p.add_argument("--calibrate", type=Path, metavar="DIR",
                   help=f"fit to a folder of at least {MIN_CALIBRATION_IMAGES} of your own typical images "
                        "(for models whose training data is not at hand, such as the ImageNet exports)")
    p.add_argument("--describe", help="with --calibrate: what the folder holds, for the warning users read")
    args = p.parse_args(argv)
    from .errors import ExportError

    for path in args.files:
        try:
            if args.calibrate:
                print(calibrate(path, args.calibrate, args.describe))
            elif args.evaluate:
                print(evaluate(path, args.evaluate))
            else:
                print(fit_fashion_mnist(path))
        except ExportError as exc:
            print(f"ood_fit: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
