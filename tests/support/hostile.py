"""Hostile and broken inputs, generated on the fly (nothing large is committed).

Each case is (name, path or URL, expectation): an expectation of None means the image is odd but
valid and must classify; a string is the reason its one-line error must contain.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

MARKER_NAME = "CODE-RAN"


class RunsCode:
    """Unpickling this creates the marker file: the proof that a file's code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions but carries a few bytes of data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
            + _png_chunk(b"IEND", b""))


def _jpeg_huge_header(folder: Path) -> bytes:
    """A real small JPEG whose SOF0 frame header is rewritten to claim 60000x60000."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 60000, 60000)
    return bytes(data)


def _rgb(size=(48, 32), seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def image_cases(folder: Path) -> list[tuple[str, str, str | None]]:
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / MARKER_NAME
    cases: list[tuple[str, str, str | None]] = []

    def add(name: str, filename: str, data: bytes | None, expect: str | None, image: Image.Image | None = None,
            **save) -> None:
        path = folder / filename
        if image is not None:
            image.save(path, **save)
        elif data is not None:
            path.write_bytes(data)
        cases.append((name, str(path), expect))

    add("zero bytes", "zero.png", b"", "empty file")
    add("text renamed to .jpg", "text.jpg", b"just some text, not a JPEG\n", "not an image in an allowed format")
    good_jpeg, good_png = io.BytesIO(), io.BytesIO()
    _rgb((256, 256)).save(good_jpeg, "JPEG")
    _rgb((256, 256)).save(good_png, "PNG")
    add("truncated JPEG", "cut.jpg", good_jpeg.getvalue()[:600], "damaged or truncated")
    add("truncated PNG", "cut.png", good_png.getvalue()[:300], "damaged or truncated")
    add("bomb: huge PNG header, tiny data", "bomb.png", _png_header_only(100_000, 100_000), "decompression bomb")
    add("bomb: huge JPEG header", "bomb.jpg", _jpeg_huge_header(folder), "decompression bomb")
    add("0xN dimensions", "zero-width.png", _png_header_only(0, 50), "damaged or truncated")
    add("CMYK JPEG", "cmyk.jpg", None, None, _rgb().convert("CMYK"))
    add("16-bit PNG", "deep.png", None, None,
        Image.fromarray((np.arange(32 * 48).reshape(32, 48) * 40).astype(np.uint16)))
    add("I TIFF", "int.tiff", None, None, Image.fromarray(np.arange(32 * 48, dtype=np.int32).reshape(32, 48) * 1000))
    add("F TIFF", "float.tiff", None, None, Image.fromarray(np.linspace(-3, 9, 32 * 48, dtype=np.float32)
                                                           .reshape(32, 48)))
    palette = Image.new("P", (40, 30), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    add("palette with a transparent index", "palette.png", None, None, palette, transparency=1)
    add("LA", "la.png", None, None, _rgb().convert("LA"))
    add("1-bit", "bits.png", None, None, _rgb().convert("1"))
    frames = [_rgb(seed=i) for i in range(3)]
    add("animated GIF", "anim.gif", None, None, frames[0], save_all=True, append_images=frames[1:])
    add("animated WebP", "anim.webp", None, None, frames[0], save_all=True, append_images=frames[1:])
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        add(f"EXIF orientation {orientation}", f"orient{orientation}.jpg", None, None, _rgb((40, 20)), exif=exif)
    corrupt_exif = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x05\xff\xff" + os.urandom(24)
    add("corrupt EXIF block", "bad-exif.jpg", None, None, _rgb(), exif=corrupt_exif)
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", "A" * 32, zip=False)
    text_png = io.BytesIO()
    _rgb().save(text_png, "PNG", pnginfo=info)
    raw = text_png.getvalue()
    iend = raw.rfind(b"IEND") - 4
    # A compressed text chunk that inflates to 64 MB: over Pillow's text-chunk limit.
    huge = _png_chunk(b"zTXt", b"comment\x00\x00" + zlib.compress(b"B" * (64 * 1024 * 1024), 9))
    add("PNG with a huge text chunk", "huge-text.png", raw[:iend] + huge + raw[iend:], "damaged or truncated")
    progressive = io.BytesIO()
    _rgb((64, 64)).save(progressive, "JPEG", progressive=True)
    data = progressive.getvalue()
    first = data.index(b"\xff\xda")
    second = data.index(b"\xff\xda", first + 2)
    add("a JPEG repeating one scan 5,000 times", "scans.jpg", data[:second] + data[first:second] * 5000 + data[second:],
        "scans is over the 100 limit")
    (folder / "dir.png").mkdir(exist_ok=True)
    cases.append(("a directory named x.png", str(folder / "dir.png"), "is a directory"))
    loop = folder / "loop.png"
    if not loop.is_symlink():
        os.symlink(loop, loop)
    cases.append(("a symlink loop", str(loop), "cannot read"))
    long_name = "l" * 240 + ".png"
    add("a very long file name", long_name, None, None, _rgb())
    odd = folder / os.fsdecode(b"caf\xe9-\xff.png")
    _rgb().save(odd, "PNG")
    cases.append(("a non-UTF-8 file name", str(odd), None))
    add("a pickle that runs code", "pickle.png", pickle.dumps(RunsCode(marker)), "not an image in an allowed format")
    cases.append(("a remote http:// URL", "http://example.com/cat.jpg", "remote URLs are not fetched"))
    return cases


def model_cases(folder: Path, good_onnx: Path) -> list[tuple[str, Path, str]]:
    """ONNX model files a user might open; each must be refused with its reason."""
    import json

    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    base = onnx.load(str(good_onnx))

    def variant(name: str, filename: str, change, expect: str) -> None:
        model = onnx.ModelProto()
        model.CopyFrom(base)
        change(model)
        path = folder / filename
        onnx.save_model(model, str(path))
        cases.append((name, path, expect))

    def external(location: str):
        def change(model):
            tensor = model.graph.initializer[0]
            tensor.ClearField("raw_data")
            tensor.ClearField("float_data")
            tensor.data_location = onnx.TensorProto.EXTERNAL
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", location
        return change

    def props(**updates):
        def change(model):
            current = {p.key: p.value for p in model.metadata_props}
            current.update(updates)
            del model.metadata_props[:]
            onnx.helper.set_model_props(model, current)
        return change

    variant("external data ../../etc/passwd", "ext-rel.onnx", external("../../etc/passwd"), "uses external data")
    variant("external data /etc/passwd", "ext-abs.onnx", external("/etc/passwd"), "uses external data")
    raw = good_onnx.read_bytes()
    (folder / "truncated.onnx").write_bytes(raw[: len(raw) // 3])
    cases.append(("truncated ONNX", folder / "truncated.onnx", "not a readable ONNX file"))
    (folder / "zero.onnx").write_bytes(b"")
    cases.append(("zero-byte ONNX", folder / "zero.onnx", "empty file"))

    def wrong_rank(model):
        model.graph.input[0].type.tensor_type.shape.dim.pop()
    variant("wrong input rank", "rank.onnx", wrong_rank, "should be a 4-D float32 or float16 image batch")
    variant("metadata not JSON", "badjson.onnx", props(preprocess="{resize: 28"), "is not valid JSON")
    variant("metadata of the wrong type", "badtype.onnx", props(labels=json.dumps({"a": 1})), "should be a list")
    variant("labels that do not match the logits", "labels.onnx", props(labels=json.dumps(["a", "b", "c"])),
            "3 labels for 10 logits")
    return cases
