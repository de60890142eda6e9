"""A user's image folder, one subfolder per class, as an in-memory training set.

The folder rules are the app's: the images under each class folder are found by the core's one walker,
links to files are read, and links to folders, class folders among them, are not followed, so nothing
outside the chosen folder is trained on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .dataset import Dataset
from .registry import IMAGENET_MEAN, IMAGENET_STD


class FolderError(Exception):
    pass


def class_folders(root: Path) -> tuple[list[Path], list[Path]]:
    """(class folders, links to folders that were left out), each sorted by name; the names are checked
    as labels a model file will carry."""
    from resnet_studio.core.model_file import check_written_labels
    from resnet_studio.core.walk import linked_subfolders, subfolders

    if not root.is_dir():
        raise FolderError(f"{root}: not a folder")
    folders = subfolders(root)
    if len(folders) < 2:
        raise FolderError(f"{root}: needs at least two class subfolders, found {len(folders)}")
    # Folder names become the model's labels: the rules every written model file's labels follow.
    check_written_labels([f.name for f in folders], f"{root}: the class folder names", FolderError)
    return folders, linked_subfolders(root)


def split_counts(images: int, val_fraction: float) -> tuple[int, int]:
    """(training, validation) images of one class: at least one of each, or a FolderError's reason."""
    held = max(1, round(images * val_fraction))
    return images - held, held


def load_folder_split(root: Path, image_size: int, val_fraction: float, seed: int, color: str = "RGB",
                      mean: list[float] | None = None, std: list[float] | None = None) -> tuple[Dataset, Dataset]:
    """Decode every image once at ``image_size`` in ``color`` (RGB or L) and split each class by ``val_fraction``
    (stratified). ``mean``/``std``: the base model's normalisation (default ImageNet's)."""
    from resnet_studio.core.intake import ImageRejected, load_image
    from resnet_studio.core.preprocess import centre_crop, resize_shorter
    from resnet_studio.core.walk import files_in

    folders, linked = class_folders(root)
    classes = [f.name for f in folders]
    rng = np.random.default_rng(seed)
    splits: dict[str, list[tuple[np.ndarray, int, str]]] = {"train": [], "val": []}
    skipped = [f"{link}: a link to a folder, not followed (class folders must be real folders)" for link in linked]
    for label, folder in enumerate(folders):
        images = []
        for path in files_in(folder):
            try:
                image = centre_crop(resize_shorter(load_image(path, color), image_size), image_size)
            except ImageRejected as exc:
                skipped.append(str(exc))
                continue
            pixels = np.asarray(image, dtype=np.uint8)
            images.append((pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1), path))
        if len(images) < 2:
            raise FolderError(f"{folder}: needs at least 2 readable images (one to train on, one to hold out), "
                              f"found {len(images)}")
        train, held = split_counts(len(images), val_fraction)
        if train < 1:
            raise FolderError(f"{folder}: --val-fraction {val_fraction:g} holds out all {len(images)} images, "
                              f"leaving none to train on")
        order = rng.permutation(len(images))
        splits["val"].extend((*images[i], label) for i in order[:held])
        splits["train"].extend((*images[i], label) for i in order[held:])

    def dataset(items: list[tuple[np.ndarray, str, int]]) -> Dataset:
        return Dataset(torch.from_numpy(np.stack([x for x, _, _ in items])), torch.tensor([y for _, _, y in items]),
                       classes, list(mean or IMAGENET_MEAN), list(std or IMAGENET_STD), root.name, skipped,
                       [path for _, path, _ in items])

    return dataset(splits["train"]), dataset(splits["val"])
