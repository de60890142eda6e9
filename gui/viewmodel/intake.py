"""What a drop, a paste or File → Open hands the app, turned into images to classify, off the GUI thread.

Dropped and pasted URLs must be absolute local ``file:`` URLs (``core.local_file.path_from_uri``);
folders expand through the core's one walker; at most ``cap`` images come from one drop. Each
refused item becomes an image with its one-line reason, so nothing a user dropped vanishes silently.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from resnet_studio.core.local_file import Rejected, path_from_uri
from resnet_studio.core.walk import expand

CHUNK = 256  # images handed to the GUI thread at a time: the list grows without freezing the window
MODEL_SUFFIX = ".onnx"


@dataclass(frozen=True)
class Item:
    path: str
    error: str | None = None


def parse_uri_list(raw: bytes) -> list[str]:
    """The URIs of a ``text/uri-list`` payload (RFC 2483): one a line, ``#`` lines are comments."""
    text = raw.decode("utf-8", "replace")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _paths(uris: Iterable[str], paths: Iterable[str], refused: list[Item]) -> Iterator[str]:
    for uri in uris:
        try:
            yield path_from_uri(uri)
        except Rejected as exc:
            refused.append(Item(uri, str(exc)))
    yield from paths


def _images(given: Iterator[str], models: list[str]) -> Iterator[str]:
    """The given paths, less the model files among them (a dropped .onnx opens as the model)."""
    for path in given:
        if path.lower().endswith(MODEL_SUFFIX) and os.path.isfile(path):
            models.append(path)
        else:
            yield path


def resolve(uris: Iterable[str], paths: Iterable[str], cap: int, cancelled: threading.Event,
            emit: Callable[[list[Item]], None]) -> tuple[int, bool, list[str]]:
    """Emit, in chunks, the images that ``uris`` and ``paths`` name (folders expanded); returns how many
    were emitted, whether ``cap`` stopped the walk, and the model files given by name."""
    refused: list[Item] = []
    batch: list[Item] = []
    models: list[str] = []
    count = 0
    capped = False
    for path in expand(_images(_paths(uris, paths, refused), models), cancelled=cancelled):
        if cancelled.is_set():
            break
        if count >= cap:
            capped = True
            break
        batch.append(Item(path, f"{path}: is a directory with no images in it" if path and os.path.isdir(path) else None))
        count += 1
        if len(batch) >= CHUNK:
            emit(batch)
            batch = []
    emit(refused + batch)
    return count, capped, models


def save_pasted(data: bytes, suffix: str, folder: Path, number: int) -> str:
    """Pasted or dropped image bytes, as they came (never decoded here), saved to the app's private folder."""
    path = folder / f"pasted-{number}{suffix}"
    path.write_bytes(data)
    return str(path)


# The image types a drop or the clipboard may carry as bytes, with the suffix their file gets.
IMAGE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/bmp": ".bmp",
               "image/gif": ".gif", "image/tiff": ".tiff"}
