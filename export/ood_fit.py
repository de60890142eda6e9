"""Fit an exported classifier's out-of-distribution parameters and write them into its metadata.

The class means and the shared covariance come from the training images' pooled features;
the threshold is the score that 96% of held-in images stay under. For Fashion-MNIST models
(``python -m resnet_studio.export.ood_fit FILE...``) the statistics use all 60,000 training
images, the threshold the first 5,000 test images, and the other 5,000 report the rate that
is really flagged. ``export_trained`` fits the same way on a folder's training split.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from resnet_studio.gui.core.ood import OutOfDistribution, auroc, fit

HELD_IN_SHARE = 0.96  # the 95th percentile flagged 5.4% of the unseen test half; this keeps it under 5%
FASHION_MNIST = "10 kinds of clothing, greyscale, on black"


def features_of(path: Path, samples: np.ndarray, batch: int = 256) -> np.ndarray:
    from resnet_studio.export.api import _cpu_session

    session = _cpu_session(path)
    return np.concatenate([session.run(["features"], {"input": samples[i:i + batch]})[0]
                           for i in range(0, len(samples), batch)])


def fit_file(path: Path, train: np.ndarray, train_labels: np.ndarray, held_in: np.ndarray, description: str,
             provenance: dict) -> OutOfDistribution:
    """Fit on ``train``, set the threshold on ``held_in``, and record it all in the file's metadata."""
    from resnet_studio.export.api import _set_metadata

    classes = int(train_labels.max()) + 1
    means, precision = fit(features_of(path, train), train_labels, classes)
    ood = OutOfDistribution(means, precision, 0.0, description)
    ood.threshold = round(float(np.quantile(ood.scores(features_of(path, held_in)), HELD_IN_SHARE)), 4)
    _set_metadata(path, {"ood": {**ood.to_metadata(), **provenance, "held_in_share": HELD_IN_SHARE}})
    return ood


def fit_fashion_mnist(path: Path) -> dict:
    """Fit a Fashion-MNIST model; returns the flagged rates on the held-in and the unseen test halves."""
    from resnet_studio.export.api import fashion_mnist_samples
    from resnet_studio.gui.core.model_file import read_model
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
    from resnet_studio.export.api import fashion_mnist_samples, folder_samples
    from resnet_studio.gui.core.model_file import read_model

    info = read_model(path)
    inside = info.ood.scores(features_of(path, fashion_mnist_samples(info.preprocess, 10_000)[5000:]))
    outside = info.ood.scores(features_of(path, folder_samples(folder, info.preprocess, limit=10_000)[0]))
    return {"file": path.name, "unseen_test_flagged": round(float((inside > info.ood.threshold).mean()), 4),
            "images": len(outside), "flagged": round(float((outside > info.ood.threshold).mean()), 4),
            "auroc": round(auroc(inside, outside), 4)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m resnet_studio.export.ood_fit", description=__doc__)
    p.add_argument("files", nargs="+", type=Path, help="Fashion-MNIST ONNX files with a 'features' output")
    p.add_argument("--evaluate", type=Path, metavar="DIR",
                   help="do not fit: report the flagged rate and AUROC of a folder of out-of-domain images")
    args = p.parse_args(argv)
    for path in args.files:
        print(evaluate(path, args.evaluate) if args.evaluate else fit_fashion_mnist(path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
