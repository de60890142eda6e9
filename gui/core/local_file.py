"""The checks every user-supplied path goes through before its contents are read."""

from __future__ import annotations

import os
from pathlib import Path


class Rejected(Exception):
    """Why an input cannot be used; ``str()`` is one line naming it."""


def check_local_file(path: str | os.PathLike, error: type[Rejected], remote_hint: str) -> tuple[Path, str, int]:
    """(path, printable name, size in bytes) of a readable, non-empty local file, or ``error`` with a reason."""
    text = os.fsdecode(path)
    if "://" in text:  # checked before Path(), which would fold "//" into "/"
        raise error(f"{text}: remote URLs are not fetched; {remote_hint}")
    path = Path(path)
    if path.is_dir():
        raise error(f"{text}: is a directory")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise error(f"{text}: cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise error(f"{text}: empty file")
    return path, text, size
