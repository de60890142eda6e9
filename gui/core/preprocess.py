"""Turn a decoded image into a model input exactly as a ``Preprocess`` says.

Resize (the shorter side to ``resize`` then a centre crop of ``crop``, as torchvision does; or the whole
image squashed to ``crop`` × ``crop``, as Keras' ``load_img`` does), scale to [0, 1], reorder the
channels for a BGR model, then ``(x - mean) / std`` per channel.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .contract_parts import Preprocess

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


def crop_box(size: tuple[int, int], spec: Preprocess) -> tuple[float, float, float, float]:
    """The (left, top, right, bottom) of an image of ``size`` that ``to_input`` keeps, in its pixels.

    It reaches past the image where the crop is larger than the resized image (zero padding); a squashed
    image is kept whole.
    """
    width, height = size
    if spec.resize_mode == "squash":
        return 0.0, 0.0, float(width), float(height)
    resized_w, resized_h = shorter_side_to(size, spec.resize)
    left, top = int(round((resized_w - spec.crop) / 2.0)), int(round((resized_h - spec.crop) / 2.0))
    sx, sy = width / resized_w, height / resized_h
    return left * sx, top * sy, (left + spec.crop) * sx, (top + spec.crop) * sy


def describe_input(spec: Preprocess) -> str:
    """What the network receives, in words: "28×28 greyscale: the shorter side resized to 28, then the centre square"."""
    colour = {"L": "greyscale", "BGR": "colour (BGR)"}.get(spec.color, "colour")
    if spec.resize_mode == "squash":
        return f"{spec.crop}×{spec.crop} {colour}: the whole image resized to {spec.crop}×{spec.crop}"
    cut = "the centre square" if spec.crop == spec.resize else f"the centre {spec.crop}×{spec.crop}"
    return f"{spec.crop}×{spec.crop} {colour}: the shorter side resized to {spec.resize}, then {cut}"


def covers_whole(box: tuple[float, float, float, float], size: tuple[int, int]) -> bool:
    """Whether a crop box (as ``crop_box`` gives) keeps every pixel of an image of ``size``."""
    left, top, right, bottom = box
    return left <= 0.5 and top <= 0.5 and right >= size[0] - 0.5 and bottom >= size[1] - 0.5


def as_picture(array: np.ndarray, spec: Preprocess) -> np.ndarray:
    """A model input ([C, H, W], normalised) back as the [H, W, 3] RGB uint8 picture the network was given."""
    mean = np.asarray(spec.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(spec.std, dtype=np.float32)[:, None, None]
    pixels = np.clip((array * std + mean) * 255.0, 0, 255).round().astype(np.uint8).transpose(1, 2, 0)
    if spec.color == "BGR":
        pixels = pixels[:, :, ::-1]
    return np.ascontiguousarray(np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels)


def to_input(image: Image.Image, spec: Preprocess) -> np.ndarray:
    """A [C, H, W] float32 array for one image; ``image`` must already be in ``spec.decode_mode``."""
    if spec.resize_mode == "squash":
        image = image.resize((spec.crop, spec.crop), RESAMPLING[spec.interpolation])
    else:
        image = centre_crop(resize_shorter(image, spec.resize, spec.interpolation), spec.crop)
    array = np.asarray(image, dtype=np.float32) / 255.0
    array = array[:, :, None] if array.ndim == 2 else array
    if spec.color == "BGR":
        array = array[:, :, ::-1]
    mean = np.asarray(spec.mean, dtype=np.float32)
    std = np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(((array - mean) / std).transpose(2, 0, 1))
