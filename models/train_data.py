"""The data a training run reads: Fashion-MNIST from its IDX files, or a user's folder of class folders
split for validation (with the colour, normalisation and size of a base model file, when one is given)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from resnet_studio.core.text import printable

from .dataset import Dataset
from .distributed import World

DEFAULT_IMAGE_SIZE = 224


def fashion_mnist(data_dir: Path | None) -> tuple[Dataset, Dataset]:
    from .fashion_mnist import CLASSES, load_split

    train_x, train_y = load_split("train", data_dir)
    test_x, test_y = load_split("test", data_dir)
    # Normalisation statistics come from the training split itself.
    mean, std = float(train_x.mean() / 255), float(train_x.std() / 255)
    return (Dataset(torch.tensor(train_x).unsqueeze(1), torch.tensor(train_y), CLASSES, [mean], [std], "Fashion-MNIST"),
            Dataset(torch.tensor(test_x).unsqueeze(1), torch.tensor(test_y), CLASSES, [mean], [std], "Fashion-MNIST"))


def load_data(args: argparse.Namespace, world: World) -> tuple[Dataset, Dataset, int]:
    """The training and held-out sets, and the input size; sets the crop padding when not given."""
    if args.data:
        from .folder import load_folder_split

        color, mean, std = "RGB", None, None
        if args.weights.endswith(".onnx"):  # a model file of ours: its colour, normalisation and input size
            from .onnx_weights import read_base

            base = read_base(Path(args.weights), args.variant).preprocess
            color, mean, std = base.color, list(base.mean), list(base.std)
            args.image_size = args.image_size or base.crop
        args.image_size = args.image_size or DEFAULT_IMAGE_SIZE
        train_set, val_set = load_folder_split(Path(args.data), args.image_size, args.val_fraction, args.seed,
                                               color, mean, std)
        if world.main and not args.progress_json:
            report_skipped(train_set.skipped)
        if args.pad is None:
            args.pad = args.image_size // 8
        return train_set, val_set, args.image_size
    train_set, val_set = fashion_mnist(args.data_dir)
    if args.subset:
        train_set.images, train_set.labels = train_set.images[:args.subset], train_set.labels[:args.subset]
        val_set.images, val_set.labels = val_set.images[:args.subset], val_set.labels[:args.subset]
    if args.pad is None:
        args.pad = 2
    return train_set, val_set, 28


def report_skipped(skipped: list[str]) -> None:
    if skipped:
        print(f"skipped {len(skipped)} unreadable file(s):", file=sys.stderr)
        for reason in skipped[:20]:
            print(f"  {printable(reason)}", file=sys.stderr)
