"""Small labelled folders written with Pillow: two textures a network tells apart in a few epochs."""

from pathlib import Path

import numpy as np
from PIL import Image


def texture(kind: str, rng: np.random.Generator, size: int = 32) -> Image.Image:
    """Vertical stripes or a grid of dots, each at a random phase, over noise."""
    pixels = rng.integers(0, 60, (size, size, 3))
    shift = int(rng.integers(0, 4))
    if kind == "stripes":
        pixels[:, shift::4] += 190
    else:
        pixels[shift::5, shift::5] += 190
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def texture_folder(root: Path, per_class: int = 8, classes: tuple[str, ...] = ("stripes", "dots"), seed: int = 0) -> Path:
    """ROOT/CLASS/N.png for each class."""
    rng = np.random.default_rng(seed)
    for kind in classes:
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            texture("stripes" if kind == "stripes" else "dots", rng).save(folder / f"{i}.png")
    return root
