"""A ``resnet-studio train`` checkpoint exported as a finished model: fp32 and int8, both scored,
with out-of-distribution parameters fitted to the training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from resnet_studio.models.checkpoint import safetensors_metadata

from .api import ExportReport, export, prepare
from .scoring import fashion_mnist_samples, fashion_mnist_test, record_accuracy
from .ood_fit import fit_fashion_mnist, fit_folder_split


def export_trained(checkpoint: Path, output: Path, samples: np.ndarray | None = None,
                   labels: np.ndarray | None = None, sample_name: str = "validation split",
                   quiet: bool = False, train_samples: np.ndarray | None = None,
                   train_labels: np.ndarray | None = None, folder: str = "") -> list[ExportReport]:
    """Export a checkpoint written by ``resnet-studio train`` as fp32 plus its int8 twin, both scored,
    with out-of-distribution parameters fitted to the training data.

    Fashion-MNIST models calibrate on 512 training images and are scored on the whole test split;
    others use ``samples``/``labels`` (preprocessed images and their classes) for both, and fit the
    out-of-distribution parameters on ``train_samples``/``train_labels``.
    """

    trained = safetensors_metadata(checkpoint)
    prepared = prepare(trained["variant"], str(checkpoint))
    calibration, calibration_name = samples, sample_name
    if samples is None and prepared.dataset == "Fashion-MNIST":
        calibration, calibration_name = fashion_mnist_samples(prepared.preprocess, 512, split="train"), \
            "512 Fashion-MNIST training images"
        samples, labels, sample_name = fashion_mnist_test(prepared.preprocess)
    output = Path(output)
    reports = [export(prepared, output, precision="fp32")]
    if calibration is not None:
        reports.append(export(prepared, output.with_name(output.stem + "-int8.onnx"), precision="int8",
                              samples=calibration, sample_name=calibration_name))
    if labels is not None:
        for report in reports:
            accuracy = record_accuracy(Path(report.path), samples, labels, sample_name)
            if not quiet:
                print(f"{report.path}: {accuracy:.2%} top-1 on the {sample_name} ({len(labels)} images, "
                      f"ONNX Runtime {report.precision})")
    for report in reports:
        if prepared.dataset == "Fashion-MNIST":
            fit_fashion_mnist(Path(report.path))
        elif train_samples is not None and train_labels is not None and samples is not None:
            fit_folder_split(Path(report.path), train_samples, train_labels, samples, prepared.labels, folder)
    return reports
