"""What the Train panel trains: the classes and their images, the base model with its weights said
honestly, the recipe, and the ``resnet-studio train`` command line that the child process runs.
Qt-free and torch-free."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from resnet_studio.core.model_file import Rejected, check_written_labels
from resnet_studio.core.walk import files_in, subfolders
from resnet_studio.models.registry import VARIANTS

from .lineup import Offer

MIN_CLASS_IMAGES = 2  # one to train on, one to hold out
FEW_IMAGES = 10  # below this a class gets a warning: its validation figure rests on one or two images
IMBALANCE = 3.0  # largest class over smallest above which the set is called imbalanced
FOLDER_CAP = 20_000  # images read from one dropped folder
TRAINING_FOLDER = ".training"  # inside the models folder: checkpoints and staged classes, never listed


class PlanRejected(Rejected):
    """Why this training cannot start, in one line."""


@dataclass
class ClassImages:
    name: str
    images: list[str] = field(default_factory=list)


@dataclass
class ClassSet:
    """The classes being built in the panel; ``folder`` when they came as one folder of class folders."""

    classes: list[ClassImages] = field(default_factory=list)
    folder: Path | None = None

    @classmethod
    def from_folder(cls, root: str | os.PathLike) -> ClassSet:
        root = Path(root)
        folders = subfolders(root)
        if len(folders) < 2:
            raise PlanRejected(f"{root.name}: a training folder holds one subfolder per class; found "
                               f"{len(folders)}")
        classes = [ClassImages(f.name, list(_capped(files_in(f)))) for f in folders]
        return cls(classes, root)

    def add_class(self, name: str) -> ClassImages:
        name = name.strip()
        if not name:
            raise PlanRejected("a class needs a name")
        if any(c.name.casefold() == name.casefold() for c in self.classes):
            raise PlanRejected(f"there is a class named {name} already")
        check_written_labels([name], "the class name", PlanRejected)
        if "/" in name or "\\" in name or name in (".", ".."):
            raise PlanRejected(f"{name}: a class name cannot hold / or \\")
        self.folder = None  # built by hand now: it is staged as a folder of its own before training
        made = ClassImages(name)
        self.classes.append(made)
        return made

    def add_images(self, name: str, paths: list[str]) -> int:
        """Add image files (folders expand) to class ``name``; returns how many were new."""
        target = next(c for c in self.classes if c.name == name)
        known = set(target.images)
        new = [p for p in _capped(_expand(paths)) if p not in known]
        target.images.extend(new)
        self.folder = None
        return len(new)

    def remove_class(self, name: str) -> None:
        self.classes = [c for c in self.classes if c.name != name]
        self.folder = None

    def readiness(self) -> str:
        """One line for the panel's status: ready to train, or the first reason it cannot."""
        if not self.classes:
            return "no classes yet: drop a folder of class folders, or add a class and drop images onto it"
        refusals, _ = self.problems()
        if refusals:
            return f"not ready to train: {refusals[0]}"
        images = sum(len(c.images) for c in self.classes)
        return f"{len(self.classes)} classes, {images} images: ready to train"

    def problems(self) -> tuple[list[str], list[str]]:
        """(reasons it cannot train, warnings): each one line."""
        refusals, warnings = [], []
        if len(self.classes) < 2:
            refusals.append(f"training needs at least two classes; there {'is' if len(self.classes) == 1 else 'are'} "
                            f"{len(self.classes)}")
        for c in self.classes:
            count = len(c.images)
            if count < MIN_CLASS_IMAGES:
                refusals.append(f"{c.name}: {count} image{'' if count == 1 else 's'}; a class needs at least "
                                f"{MIN_CLASS_IMAGES} (one to train on, one to hold out for validation)")
            elif count < FEW_IMAGES:
                warnings.append(f"{c.name}: only {count} images; its validation figure rests on one or two of them")
        counts = [len(c.images) for c in self.classes if c.images]
        if len(counts) >= 2 and max(counts) > IMBALANCE * min(counts):
            big = max(self.classes, key=lambda c: len(c.images))
            small = min((c for c in self.classes if c.images), key=lambda c: len(c.images))
            warnings.append(f"imbalanced: {big.name} has {len(big.images)} images, {small.name} {len(small.images)}; "
                            f"the model will lean towards {big.name}")
        return refusals, warnings

    def stage(self, models_dir: Path, name: str) -> Path:
        """The folder to train on: the dropped folder as it is, or the hand-built classes copied into
        models_dir/.training/NAME-data (written beside it, then renamed into place)."""
        if self.folder is not None:
            return self.folder
        root = models_dir / TRAINING_FOLDER
        root.mkdir(parents=True, exist_ok=True)
        target = root / f"{name}-data"
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-data-", dir=root))
        try:
            for c in self.classes:
                folder = staging / c.name
                folder.mkdir()
                for i, source in enumerate(c.images):
                    # Numbered names: two files called 1.png from different folders both survive.
                    shutil.copyfile(source, folder / f"{i:05d}-{Path(source).name[-80:]}")
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target


def _expand(paths: list[str]):
    for path in paths:
        if os.path.isdir(path):
            yield from files_in(path)
        elif os.path.isfile(path):
            yield path


def _capped(paths):
    for i, path in enumerate(paths):
        if i >= FOLDER_CAP:
            return
        yield path


@dataclass
class Base:
    """A model to start from: a variant and the weights it starts with, described as they are."""

    title: str
    variant: str
    weights: str  # the train command's --weights: random, imagenet, or an fp32 .onnx file of ours
    kind: str  # "file", "imagenet" or "random"
    note: str = ""  # what the weights are, or what they mean on a few images
    greyscale: bool = False
    image_size: int = 64
    freeze: bool = False
    epochs: int = 15

    def warning(self, images: int, frozen: bool = False) -> str:
        if self.kind != "random":
            return ""
        if frozen:
            return ("⚠ A frozen random backbone learns nothing: only the head trains, on features no training "
                    "shaped. Train every layer.")
        return (f"⚠ Random weights: the network learns from your {images} images alone; with a few dozen a class "
                f"expect it to find colour and texture, not objects.")


def _shipped(offer: Offer) -> bool:
    entry = offer.files.get("fp32")
    return entry is not None and entry.origin == "shipped"


def bases(listed: list[Offer]) -> list[Base]:
    """Every base the picker's models and variants give (``listed``: the picker's offers, so that the GUI
    thread reads no model file): trained files first (the shipped ones, so that the default base stays the
    same as the user trains more), then ImageNet, then random."""
    found, random = [], []
    shipped_first = sorted(listed, key=lambda o: not _shipped(o))
    for offer in shipped_first:
        info = offer.files["fp32"].info if "fp32" in offer.files else None
        if info is not None and info.has_metadata and offer.variant in VARIANTS and offer.weights != "random":
            grey = info.input.channels == 1
            found.append(Base(f"{offer.title} (trained on {info.meta.dataset or 'its own data'}"
                              f"{', greyscale' if grey else ''}, {info.preprocess.crop} px)", offer.variant,
                              str(offer.files["fp32"].path), "file",
                              f"starts from the weights in {offer.files['fp32'].path.name}"
                              + ("; your images are read in greyscale" if grey else ""),
                              grey, info.preprocess.crop, False, 15))
        elif not offer.exported and offer.weights == "imagenet" and offer.checkpoint is not None:
            variant = VARIANTS[offer.variant]
            where = ("cached" if offer.checkpoint_cached
                     else f"downloads ≈ {variant.checkpoint_bytes() / 1e6:.0f} MB")
            found.append(Base(f"{offer.variant} (ImageNet weights, {where})", offer.variant, "imagenet", "imagenet",
                              f"torchvision's ImageNet checkpoint ({offer.checkpoint.acc1:.1f}% top-1), {where}",
                              image_size=224, freeze=True, epochs=10))
    for name in VARIANTS:
        random.append(Base(f"{name} (random weights)", name, "random", "random",
                           "He initialisation: nothing learnt yet.", image_size=32 if name.startswith(("resnet20",
                                                                                                       "plain")) else 64))
    return found + random


@dataclass
class Recipe:
    epochs: int
    image_size: int
    freeze: bool
    augment: str = "crop-flip"


def run_name(variant: str, dataset: str, models_dir: Path) -> str:
    """resnet18-textures, or resnet18-textures-2 when that model exists already."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{variant}-{dataset}").strip("-.")[:80] or variant
    name, n = stem, 2
    while (models_dir / f"{name}.onnx").exists():
        name, n = f"{stem}-{n}", n + 1
    return name


def train_arguments(base: Base, recipe: Recipe, data: Path, output: Path, export: Path, resume: bool) -> list[str]:
    """The ``resnet-studio train`` arguments; batch size and learning rate are left to the command, which
    scales them to the data and says what it chose."""
    args = ["train", base.variant, "--data", str(data), "--weights", base.weights, "--epochs", str(recipe.epochs),
            "--augment", recipe.augment, "--image-size", str(recipe.image_size), "--output", str(output),
            "--export", str(export), "--progress-json"]
    if recipe.freeze:
        args.append("--freeze-backbone")
    if resume:
        args.append("--resume")
    return args
