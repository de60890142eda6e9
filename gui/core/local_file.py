"""The checks every user-supplied path goes through before its contents are read."""

from __future__ import annotations

import os
import stat
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
        info = path.stat()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a loop of symbolic links
        raise error(f"{text}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
        raise error(f"{text}: not a regular file")
    size = info.st_size
    if size == 0:
        raise error(f"{text}: empty file")
    return path, text, size
