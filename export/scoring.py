"""Sample sets (Fashion-MNIST, a folder) and the scores measured on them: accuracy and agreement."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from resnet_studio.core.contract_parts import Preprocess

from .errors import ExportError
from .onnx_file import _cpu_session, _set_metadata, read_metrics


def fashion_mnist_samples(preprocess: Preprocess, count: int, split: str = "test",
                          data_dir: Path | None = None) -> np.ndarray:
    """The first ``count`` images of a Fashion-MNIST split, preprocessed as the model expects."""
    from PIL import Image

    from resnet_studio.core.preprocess import to_input
    from resnet_studio.models.fashion_mnist import load_split

    images, _ = load_split(split, data_dir)
    return np.stack([to_input(Image.fromarray(img, "L"), preprocess) for img in images[:count]])


def folder_samples(folder: Path, preprocess: Preprocess, limit: int = 256) -> tuple[np.ndarray, list[str]]:
    """Preprocessed images from ``folder`` (recursively), plus one reason per file that could not be read."""
    from resnet_studio.core.intake import ImageRejected, load_image
    from resnet_studio.core.preprocess import to_input
    from resnet_studio.core.walk import files_in

    arrays, skipped = [], []
    for path in files_in(folder):
        if len(arrays) >= limit:
            break
        try:
            arrays.append(to_input(load_image(path, preprocess.decode_mode), preprocess))
        except ImageRejected as exc:
            skipped.append(str(exc))
    if not arrays:
        raise ExportError(f"no readable images in {folder}" + (f" ({skipped[0]})" if skipped else ""))
    return np.stack(arrays), skipped


def fashion_mnist_test(preprocess: Preprocess) -> tuple[np.ndarray, np.ndarray, str]:
    from resnet_studio.models.fashion_mnist import load_split

    return fashion_mnist_samples(preprocess, 10_000), load_split("test")[1], "Fashion-MNIST test split"


def record_accuracy(path: Path, samples: np.ndarray, labels: np.ndarray, sample_name: str) -> float:
    """Score the written file with ONNX Runtime and record the figure in its metadata."""
    accuracy = onnx_accuracy(path, samples, labels)
    _set_metadata(path, {"metrics": {**read_metrics(path), "onnx_top1": round(accuracy, 5),
                                     "onnx_top1_images": len(labels), "onnx_top1_sample": sample_name}})
    return accuracy


def onnx_accuracy(path: Path, samples: np.ndarray, labels: np.ndarray) -> float:
    session = _cpu_session(path, pruned=True)
    hits = 0
    for start in range(0, len(samples), 256):
        logits = session.run(["logits"], {"input": samples[start:start + 256]})[0]
        hits += int((logits.argmax(1) == labels[start:start + 256]).sum())
    return hits / len(labels)
