"""The one folder walker: every place that looks for images in a folder goes through ``files_in``.

It walks with an explicit stack, so a folder thousands of levels deep is walked like any other (Python
3.11's ``os.walk`` and ``Path.rglob`` recurse and stop with a RecursionError near 1,000 levels). The
rule on links is the same everywhere: a link to a file is read, a link to a folder is not followed,
so nothing outside the folder the user chose is taken in and a loop of links cannot trap the walk.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterable, Iterator

from .intake import IMAGE_SUFFIXES


def files_in(folder: str | os.PathLike, suffixes: Iterable[str] | None = IMAGE_SUFFIXES,
             cancelled: threading.Event | None = None) -> Iterator[str]:
    """Paths of the files under ``folder`` (of those ``suffixes``, any case; None: every file), depth
    first, each folder's files before its subfolders, both in sorted order. Unreadable folders are skipped."""
    wanted = None if suffixes is None else {s.lower() for s in suffixes}
    stack = [os.fspath(folder)]
    while stack:
        if cancelled is not None and cancelled.is_set():
            return
        files, folders = _entries(stack.pop())
        for path in files:
            if wanted is None or os.path.splitext(path)[1].lower() in wanted:
                yield path
        stack.extend(reversed(folders))


def expand(inputs: Iterable[str], cap: int | None = None, cancelled: threading.Event | None = None) -> Iterator[str]:
    """Files as given; folders expand to the image files under them (``files_in``), up to ``cap`` in all.

    A folder with no images, and an empty argument, are passed through as they are, so that each is
    reported with its reason rather than silently skipped (an empty name is never the current folder).
    """
    count = 0
    for item in inputs:
        before = count
        if item and os.path.isdir(item):
            for path in files_in(item, cancelled=cancelled):
                yield path
                count += 1
                if cap and count >= cap:
                    return
        if count == before:
            yield item
            count += 1
            if cap and count >= cap:
                return


def subfolders(folder: str | os.PathLike) -> list[Path]:
    """The visible subfolders of ``folder`` that are real folders, not links to one, sorted by name."""
    _, folders = _entries(os.fspath(folder))
    return [Path(f) for f in folders if not os.path.basename(f).startswith(".")]


def linked_subfolders(folder: str | os.PathLike) -> list[Path]:
    """The visible links to folders directly in ``folder``: what ``subfolders`` leaves out, so it can be said."""
    try:
        with os.scandir(folder) as scan:
            return sorted(Path(e.path) for e in scan if not e.name.startswith(".") and e.is_symlink()
                          and _is_dir(e))
    except OSError:
        return []


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _entries(folder: str) -> tuple[list[str], list[str]]:
    """(files, real subfolders) of one folder, sorted by name; ([], []) when it cannot be read."""
    files, folders = [], []
    try:
        with os.scandir(folder) as scan:
            for entry in sorted(scan, key=lambda e: e.name):
                try:
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
                    elif entry.is_file():  # follows a link to a file; a dangling link is neither
                        files.append(entry.path)
                except OSError:
                    continue
    except OSError:
        pass
    return files, folders
