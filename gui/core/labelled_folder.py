"""A labelled folder: one subfolder per class, named as the model's labels name them (torch-free)."""

from __future__ import annotations

from pathlib import Path

from .local_file import Rejected
from .walk import expand


class FolderError(Rejected, ValueError):
    """A folder that does not hold labelled images for this model, with the reason (shown as it is: a
    Rejected, not an error of the app's)."""


def _key(name: str) -> str:
    # "/" cannot be in a folder name: "T-shirt/top" is stored as T-shirt-top or T-shirt_top.
    return " ".join(name.translate(str.maketrans("_-/", "   ")).split()).casefold()


def labelled_images(folder: str | Path, labels: list[str], cap: int = 100_000) -> list[tuple[str, int]]:
    """(image path, class index) for every image under ``folder``/CLASS/, matched to ``labels`` by name (case,
    "_", "-", "/" and spaces aside), never by folder order. A subfolder no label names is refused by name."""
    root = Path(folder)
    if not root.is_dir():
        raise FolderError(f"{folder}: not a folder")
    by_key = {_key(label): i for i, label in enumerate(labels)}
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    unknown = [p.name for p in classes if _key(p.name) not in by_key]
    if unknown:
        raise FolderError(f"{folder}: {len(unknown)} subfolder(s) match no class of the model: "
                          f"{', '.join(sorted(unknown)[:5])}{' …' if len(unknown) > 5 else ''}")
    found = [(path, by_key[_key(sub.name)]) for sub in classes
             for path in expand([str(sub)], cap) if Path(path).is_file()]
    if not found:
        raise FolderError(f"{folder}: no images in class subfolders (FOLDER/CLASS/image.png)")
    return found[:cap]
