"""Turn a decoded image into a model input exactly as the file's ``preprocess`` metadata says.

Resize the shorter side to ``resize`` (bilinear, antialiased), centre-crop ``crop``,
scale to [0, 1], then ``(x - mean) / std`` per channel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

RESAMPLING = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
              "nearest": Image.Resampling.NEAREST}


def resize_shorter(image: Image.Image, size: int, interpolation: str = "bilinear") -> Image.Image:
    w, h = image.size
    if min(w, h) == size:
        return image
    # torchvision rounds the long side down: int(size * long / short).
    new = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    return image.resize(new, RESAMPLING[interpolation])


def centre_crop(image: Image.Image, size: int) -> Image.Image:
    w, h = image.size
    if w < size or h < size:
        # As torchvision, pad with zeros so the crop is always the requested size.
        canvas = Image.new(image.mode, (max(w, size), max(h, size)))
        canvas.paste(image, ((max(w, size) - w) // 2, (max(h, size) - h) // 2))
        image, (w, h) = canvas, canvas.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def to_input(image: Image.Image, spec: dict[str, Any]) -> np.ndarray:
    """A [C, H, W] float32 array for one image; ``image`` must already be in ``spec["color"]`` mode."""
    image = centre_crop(resize_shorter(image, int(spec["resize"]), spec.get("interpolation", "bilinear")),
                        int(spec["crop"]))
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = array[:, :, None] if array.ndim == 2 else array
    mean = np.asarray(spec["mean"], dtype=np.float32)
    std = np.asarray(spec["std"], dtype=np.float32)
    return np.ascontiguousarray(((array - mean) / std).transpose(2, 0, 1))
