"""The checks every user-supplied path goes through before its contents are read, and the one way
files are written: to a temp file beside the target, renamed over it on success."""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


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


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path in the target's folder; rename it onto ``target`` only on success."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private; the result gets the mode any new file would.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
