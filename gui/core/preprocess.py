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


def shorter_side_to(size: tuple[int, int], target: int) -> tuple[int, int]:
    """The (width, height) ``resize_shorter`` gives: torchvision rounds the long side down."""
    w, h = size
    if min(w, h) == target:
        return w, h
    return (target, int(target * h / w)) if w <= h else (int(target * w / h), target)


def resize_shorter(image: Image.Image, size: int, interpolation: str = "bilinear") -> Image.Image:
    new = shorter_side_to(image.size, size)
    return image if new == image.size else image.resize(new, RESAMPLING[interpolation])


def centre_crop(image: Image.Image, size: int) -> Image.Image:
    w, h = image.size
    if w < size or h < size:
        # As torchvision, pad with zeros so the crop is always the requested size.
        canvas = Image.new(image.mode, (max(w, size), max(h, size)))
        canvas.paste(image, ((max(w, size) - w) // 2, (max(h, size) - h) // 2))
        image, (w, h) = canvas, canvas.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def crop_box(size: tuple[int, int], spec: dict[str, Any]) -> tuple[float, float, float, float]:
    """The square (left, top, right, bottom) of an image of ``size`` that ``to_input`` keeps, in its pixels.

    It reaches past the image where the crop is larger than the resized image (zero padding).
    """
    width, height = size
    resized_w, resized_h = shorter_side_to(size, int(spec["resize"]))
    crop = int(spec["crop"])
    left, top = int(round((resized_w - crop) / 2.0)), int(round((resized_h - crop) / 2.0))
    sx, sy = width / resized_w, height / resized_h
    return left * sx, top * sy, (left + crop) * sx, (top + crop) * sy


def describe_input(spec: dict[str, Any]) -> str:
    """What the network receives, in words: "28×28 greyscale: shorter side resized to 28, centre crop"."""
    crop, resize = int(spec["crop"]), int(spec["resize"])
    colour = "greyscale" if spec["color"] == "L" else "colour"
    cut = "the centre square" if crop == resize else f"the centre {crop}×{crop}"
    return f"{crop}×{crop} {colour}: the shorter side resized to {resize}, then {cut}"


def covers_whole(box: tuple[float, float, float, float], size: tuple[int, int]) -> bool:
    """Whether a crop box (as ``crop_box`` gives) keeps every pixel of an image of ``size``."""
    left, top, right, bottom = box
    return left <= 0.5 and top <= 0.5 and right >= size[0] - 0.5 and bottom >= size[1] - 0.5


def as_picture(array: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """A model input ([C, H, W], normalised) back as the [H, W, 3] uint8 picture the network was given."""
    mean = np.asarray(spec["mean"], dtype=np.float32)[:, None, None]
    std = np.asarray(spec["std"], dtype=np.float32)[:, None, None]
    pixels = np.clip((array * std + mean) * 255.0, 0, 255).round().astype(np.uint8).transpose(1, 2, 0)
    return np.ascontiguousarray(np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels)


def to_input(image: Image.Image, spec: dict[str, Any]) -> np.ndarray:
    """A [C, H, W] float32 array for one image; ``image`` must already be in ``spec["color"]`` mode."""
    image = centre_crop(resize_shorter(image, int(spec["resize"]), spec.get("interpolation", "bilinear")),
                        int(spec["crop"]))
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = array[:, :, None] if array.ndim == 2 else array
    mean = np.asarray(spec["mean"], dtype=np.float32)
    std = np.asarray(spec["std"], dtype=np.float32)
    return np.ascontiguousarray(((array - mean) / std).transpose(2, 0, 1))
