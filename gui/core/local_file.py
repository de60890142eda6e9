"""The checks every user-supplied path goes through before its contents are read, and the one way
files are written: to a temp file beside the target, renamed over it on success.

Only regular files are read or replaced. Reading opens without blocking and checks what was opened,
so a FIFO or a device swapped in after a check is still refused; writing refuses an existing target
that is not a regular file, so ``--output /dev/null`` run as root never renames a file over a device.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import tempfile
import urllib.parse
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


class Rejected(Exception):
    """Why an input cannot be used; ``str()`` is one line naming it."""


def check_local_file(path: str | os.PathLike, error: type[Rejected], remote_hint: str) -> tuple[Path, str, int]:
    """(path, printable name, size in bytes) of a readable, non-empty local file, or ``error`` with a reason."""
    text = os.fsdecode(path)
    if not text:
        raise error("an empty argument names no file")
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


_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


class NotARegularFile(OSError):
    """A path that names a device, a FIFO, a socket or a folder where a regular file is needed."""

    def __init__(self, path: str | os.PathLike, mode: int) -> None:
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        super().__init__(errno.EINVAL, f"{kind}, not a regular file", os.fsdecode(path))


def open_regular(path: str | os.PathLike):
    """``path`` opened for reading in binary mode, if it is a regular file: ``NotARegularFile`` otherwise.

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer; the check is on the
    opened file (fstat), so it holds even if the path was swapped after an earlier look.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(path, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def writable_target(target: str | os.PathLike) -> Path:
    """Where a write to ``target`` lands: through a link to its file, and never over anything but a regular file."""
    target = Path(os.path.realpath(target)) if os.path.islink(target) else Path(target)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        raise NotARegularFile(target, mode)
    return target


def replace_into(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Rename a finished file onto ``target`` (atomic within one file system), if the target may be replaced."""
    target = writable_target(target)
    os.replace(source, target)
    return target


def write_bytes_atomic(target: str | os.PathLike, data: bytes) -> None:
    with atomic_path(target) as temporary:
        temporary.write_bytes(data)


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path in the target's folder; rename it onto ``target`` only on success.

    Refuses (``NotARegularFile``, an OSError) a target that exists and is not a regular file.
    """
    target = writable_target(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes the file private; the result gets the mode any new file would.
        os.chmod(tmp, 0o666 & ~_UMASK)
        replace_into(tmp, target)  # checked again: the target may have been swapped meanwhile
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def path_from_uri(uri: str) -> str:
    """The local path a dropped or pasted URI names; ``Rejected`` for anything but an absolute ``file:``
    URL of this machine (an empty or ``localhost`` host).

    A relative reference (``canary.png``, ``../x.png``) would otherwise be resolved against the app's
    own working folder, and ``file://otherhost/x`` would name the local ``/x``. Percent-escapes are
    decoded to bytes and then through the file-system encoding, so names that are not UTF-8 survive.
    """
    from .text import shown

    parts = urllib.parse.urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https", "ftp", "sftp", "smb", "data"):
        raise Rejected(f"{shown(uri)}: remote URLs are not fetched; save the image locally first")
    if scheme != "file":
        raise Rejected(f"{shown(uri)}: not a file URL; drop files from a file manager or give a full path")
    if parts.netloc.lower() not in ("", "localhost"):
        raise Rejected(f"{shown(uri)}: a file on another machine ({shown(parts.netloc, 60)}) is not opened")
    path = os.fsdecode(urllib.parse.unquote_to_bytes(parts.path))
    if sys.platform == "win32" and len(path) > 2 and path[0] == "/" and path[2] == ":":
        path = path[1:]  # file:///C:/x names C:/x
    if not os.path.isabs(path):
        raise Rejected(f"{shown(uri)}: not an absolute path")
    return path
