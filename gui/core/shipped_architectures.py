"""The architecture of every registry variant, shipped as data (``resources/architectures.json.gz``, written
by ``python -m resnet_studio.models.architectures_data``): what the structure view compares a model with
when the other is not exported. Read without torch, once, on first use."""

from __future__ import annotations

import functools
import gzip
import json
from importlib import resources

from .architecture import Architecture, ArchitectureError

FILE = "architectures.json.gz"


@functools.cache
def _all() -> dict:
    try:
        data = json.loads(gzip.decompress(resources.files("resnet_studio.resources").joinpath(FILE).read_bytes()))
    except (OSError, ValueError, EOFError):
        return {}
    return data if isinstance(data, dict) else {}


def names() -> list[str]:
    return sorted(_all())


def shipped_architecture(variant: str) -> Architecture | None:
    """The variant's architecture at its default input size, or None where it is not shipped."""
    entry = _all().get(variant)
    try:
        return Architecture.from_json(entry) if entry is not None else None
    except ArchitectureError:
        return None
