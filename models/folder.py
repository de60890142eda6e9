"""A user's image folder, one subfolder per class, as an in-memory training set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .registry import IMAGENET_MEAN, IMAGENET_STD
from .dataset import Dataset


class FolderError(Exception):
    pass


def load_folder_split(root: Path, image_size: int, val_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Decode every image once at ``image_size`` and split each class by ``val_fraction`` (stratified)."""
    from resnet_studio.core.intake import ImageRejected, load_image
    from resnet_studio.core.model_file import check_labels
    from resnet_studio.core.preprocess import centre_crop, resize_shorter

    if not root.is_dir():
        raise FolderError(f"{root}: not a folder")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise FolderError(f"{root}: needs at least two class subfolders, found {len(classes)}")
    # Folder names become the model's labels: the rules every model file's labels follow.
    check_labels(classes, f"{root}: the class folder names", FolderError)
    rng = np.random.default_rng(seed)
    splits: dict[str, list[tuple[np.ndarray, int]]] = {"train": [], "val": []}
    skipped: list[str] = []
    for label, name in enumerate(classes):
        images = []
        for path in sorted(p for p in (root / name).rglob("*") if p.is_file()):
            try:
                image = centre_crop(resize_shorter(load_image(path, "RGB"), image_size), image_size)
            except ImageRejected as exc:
                skipped.append(str(exc))
                continue
            images.append(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1))
        if len(images) < 2:
            raise FolderError(f"{root / name}: needs at least 2 readable images, found {len(images)}")
        order = rng.permutation(len(images))
        n_val = max(1, round(len(images) * val_fraction))
        splits["val"].extend((images[i], label) for i in order[:n_val])
        splits["train"].extend((images[i], label) for i in order[n_val:])

    def dataset(items: list[tuple[np.ndarray, int]]) -> Dataset:
        return Dataset(torch.from_numpy(np.stack([x for x, _ in items])), torch.tensor([y for _, y in items]),
                       classes, list(IMAGENET_MEAN), list(IMAGENET_STD), root.name, skipped)

    return dataset(splits["train"]), dataset(splits["val"])
