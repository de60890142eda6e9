"""Conversions between arrays / Pillow images and QImage. QImages may be built off the GUI thread."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage


def rgb_to_qimage(array: np.ndarray) -> QImage:
    """[H, W, 3] uint8 -> an owning QImage."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    h, w, _ = array.shape
    return QImage(array.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def pil_to_qimage(image: Image.Image) -> QImage:
    return rgb_to_qimage(np.asarray(image.convert("RGB")))


def thumbnail(image: Image.Image, side: int = 64) -> QImage:
    copy = image.convert("RGB")
    copy.thumbnail((side, side), Image.Resampling.BILINEAR)
    return pil_to_qimage(copy)
