"""Safe image intake: every failure becomes an ``ImageRejected`` with a one-line reason."""

from __future__ import annotations

import mmap
import os
import warnings

from PIL import Image, ImageMode, ImageOps

from .local_file import Rejected, check_local_file
from .text import first_line

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF")
# What a folder walk picks up as images: the allowed formats' usual suffixes (compared in lower case).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
# Memory is bounded by bytes, not pixels: a 16-bit or float image costs 2-4 times an 8-bit one.
# 300 MB holds a 100-megapixel RGB photo.
MAX_DECODED_BYTES = 300_000_000
# A progressive JPEG decodes every scan in full; libjpeg's standard progression has 10 scans, and a
# file that repeats one scan thousands of times decodes for minutes. Baseline files fail at once.
MAX_JPEG_SCANS = 100
# Every exception type that Pillow's own fuzz harness treats as an expected decoding failure.
DECODE_ERRORS = (OSError, SyntaxError, MemoryError, ValueError, NotImplementedError, OverflowError,
                 EOFError, Image.DecompressionBombError, Image.DecompressionBombWarning)


class ImageRejected(Rejected):
    """Why one image could not be used."""


def load_image(path: str | os.PathLike, color: str = "RGB", min_side: int | None = None) -> Image.Image:
    """Open, orient and convert one local image to ``color`` ("RGB" or "L").

    With ``min_side``, a large JPEG decodes at 1/2, 1/4 or 1/8 scale (Pillow's draft mode),
    never smaller than ``min_side`` on its shorter side.
    """
    path, name, _ = check_local_file(path, ImageRejected, "save the image locally first")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=ALLOWED_FORMATS) as image:
                width, height = image.size
                if width <= 0 or height <= 0:
                    raise ImageRejected(f"{name}: image has zero size ({width}x{height})")
                if width * height > MAX_PIXELS:
                    raise ImageRejected(f"{name}: {width}x{height} pixels is over the {MAX_PIXELS:,} limit "
                                        f"(possible decompression bomb)")
                image.seek(0)  # animated files: the first frame
                # Only progressive decoding goes through scan after scan; a baseline file with extra scans
                # fails at once in libjpeg, so most photos skip the count.
                if image.format == "JPEG" and image.info.get("progressive"):
                    scans = _jpeg_scans(path)
                    if scans > MAX_JPEG_SCANS:
                        raise ImageRejected(f"{name}: a JPEG of {scans:,} scans is over the {MAX_JPEG_SCANS} limit "
                                            f"(it would take minutes to decode)")
                if min_side and image.format == "JPEG" and min(width, height) >= 2 * min_side:
                    image.draft(None, (min_side, min_side))
                decoded = image.size[0] * image.size[1] * _bytes_per_pixel(image.mode)
                if decoded > MAX_DECODED_BYTES:
                    raise ImageRejected(f"{name}: {image.size[0]}x{image.size[1]} {image.mode} pixels would take "
                                        f"{decoded / 1e6:,.0f} MB decoded, over the {MAX_DECODED_BYTES / 1e6:.0f} MB "
                                        f"limit")
                image.load()
                with warnings.catch_warnings():
                    # A corrupt EXIF block only loses its orientation; Pillow's warning says no more.
                    warnings.simplefilter("ignore", UserWarning)
                    oriented = ImageOps.exif_transpose(image)
                return _normalise_mode(oriented, color)
    except ImageRejected:
        raise
    except PermissionError:
        raise ImageRejected(f"{name}: permission denied") from None
    except FileNotFoundError:
        raise ImageRejected(f"{name}: file disappeared before it could be read") from None
    except Image.UnidentifiedImageError:
        claimed = _claimed_format(path)
        if claimed:
            raise ImageRejected(f"{name}: damaged or truncated image (a {claimed} signature, but Pillow cannot "
                                f"read its header)") from None
        raise ImageRejected(f"{name}: not an image in an allowed format ({', '.join(ALLOWED_FORMATS)})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(f"{name}: too many pixels (possible decompression bomb)") from None
    except DECODE_ERRORS as exc:
        detail = first_line(exc)
        raise ImageRejected(f"{name}: damaged or truncated image ({detail})") from None


def _bytes_per_pixel(mode: str) -> int:
    try:
        spec = ImageMode.getmode(mode)
    except KeyError:
        return 4
    return len(spec.bands) * int(spec.typestr[-1])


def _jpeg_scans(path) -> int:
    """Start-of-scan markers in a JPEG, counted up to one past the limit. 0xFF 0xDA cannot occur inside
    entropy-coded data, where every 0xFF byte is followed by 0x00 or a restart marker. The file is
    searched in place (a memory map), never copied into memory."""
    count = position = 0
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        while count <= MAX_JPEG_SCANS and (position := data.find(b"\xff\xda", position) + 1):
            count += 1
    return count


SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF87a": "GIF", b"GIF89a": "GIF",
              b"BM": "BMP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}


def _claimed_format(path) -> str | None:
    """The format a file's first bytes claim, to tell a damaged image from a non-image."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((kind for magic, kind in SIGNATURES.items() if head.startswith(magic)), None)


def _normalise_mode(image: Image.Image, color: str) -> Image.Image:
    """Composite transparency on white and bring every mode to RGB or L."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np

        array = np.asarray(image)
        low, high = float(array.min()), float(array.max())
        scaled = np.zeros(array.shape, np.uint8)
        if high > low and np.isfinite(low) and np.isfinite(high):
            # Row blocks in float32: the peak stays near the decoded image, not eight times it.
            for top in range(0, array.shape[0], 512):
                block = array[top:top + 512].astype(np.float32)
                scaled[top:top + 512] = np.rint((block - low) * (255.0 / (high - low))).clip(0, 255)
        image = Image.fromarray(scaled, "L")
    if image.mode == "P" and "transparency" in image.info or image.mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert(color)
