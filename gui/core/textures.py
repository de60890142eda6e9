"""Two textures a network tells apart in a few epochs, as a labelled folder (FOLDER/CLASS/N.png): the
training benchmark's data and the tests' (Pillow-written, no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

TEXTURES = ("stripes", "dots")


def texture(kind: str, rng: np.random.Generator, size: int = 32) -> Image.Image:
    """Vertical stripes or a grid of dots at a random phase and pitch, over noise."""
    pixels = rng.integers(0, 60, (size, size, 3))
    pitch = max(4, size // 8) + int(rng.integers(0, 2))
    shift = int(rng.integers(0, pitch))
    if kind == "stripes":
        pixels[:, shift::pitch] += 190
    else:
        pixels[shift::pitch, shift::pitch] += 190
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def texture_folder(root: Path, per_class: int = 8, size: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for kind in TEXTURES:
        folder = root / kind
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            texture(kind, rng, size).save(folder / f"{i}.png")
    return root
