"""Conversions between arrays / Pillow images and QImage. QImages may be built off the GUI thread."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import QIODevice, QRectF, QSaveFile, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap


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


def draw_crop_box(pixmap: QPixmap, box: tuple[float, float, float, float], scale: float = 1.0) -> QPixmap:
    """A copy of ``pixmap`` with ``box`` (in the pixmap's pixels before ``scale``) outlined, light over dark."""
    copy = QPixmap(pixmap)
    painter = QPainter(copy)
    left, top, right, bottom = (v * scale for v in box)
    rect = QRectF(left, top, right - left, bottom - top).adjusted(1, 1, -1, -1)
    for colour, width, style in ((QColor(0, 0, 0, 170), 3, Qt.PenStyle.SolidLine),
                                 (QColor(255, 220, 0), 1.5, Qt.PenStyle.DashLine)):
        painter.setPen(QPen(colour, width, style))
        painter.drawRect(rect)
    painter.end()
    return copy


def save_image(image: QImage, path: str) -> None:
    """Write ``image`` to ``path`` (format from the suffix) through a temp file and a rename; OSError on failure."""
    target = QSaveFile(path)
    if not target.open(QIODevice.OpenModeFlag.WriteOnly):
        raise OSError(f"{path}: cannot write ({target.errorString()})")
    fmt = path.rsplit(".", 1)[-1].upper() if "." in path else "PNG"
    if not image.save(target, fmt) or not target.commit():
        target.cancelWriting()
        raise OSError(f"{path}: cannot write ({target.errorString() or 'unsupported format ' + fmt})")


def save_scene(scene, path: str, title: str) -> None:
    """A whole graphics scene as SVG or PNG (at twice the screen scale), by the suffix, through a temp file
    and a rename; OSError on failure."""
    from PySide6.QtSvg import QSvgGenerator

    area = scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
    if path.lower().endswith(".svg"):
        target = QSaveFile(path)
        if not target.open(QIODevice.OpenModeFlag.WriteOnly):
            raise OSError(f"{path}: cannot write ({target.errorString()})")
        generator = QSvgGenerator()
        generator.setOutputDevice(target)
        generator.setSize(area.size().toSize())
        generator.setViewBox(QRectF(0, 0, area.width(), area.height()))
        generator.setTitle(title)
        painter = QPainter(generator)
        scene.render(painter, QRectF(0, 0, area.width(), area.height()), area)
        painter.end()
        if not target.commit():
            raise OSError(f"{path}: cannot write ({target.errorString()})")
        return
    image = QImage((area.size() * 2).toSize(), QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    scene.render(painter, QRectF(image.rect()), area)
    painter.end()
    save_image(image, path)


def fitted_overlay(blended, crop, width: int, height: int) -> QPixmap:
    """An [H, W, 3] picture fitted into ``width`` × ``height``, with ``crop`` (its pixels) outlined at that size.
    A small image is enlarged pixel by pixel, so its pixels and the box stay sharp."""
    h, w = blended.shape[:2]
    factor = max(1e-3, min(width / w, height / h))
    smooth = Qt.TransformationMode.FastTransformation if factor >= 2 else Qt.TransformationMode.SmoothTransformation
    pixmap = QPixmap.fromImage(rgb_to_qimage(blended)).scaled(max(1, round(w * factor)), max(1, round(h * factor)),
                                                              Qt.AspectRatioMode.IgnoreAspectRatio, smooth)
    return draw_crop_box(pixmap, crop, pixmap.width() / w) if crop else pixmap
