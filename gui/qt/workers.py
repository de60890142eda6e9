"""Work off the GUI thread: QRunnables whose results come back by signal."""

from __future__ import annotations

import os
import threading
import traceback
import urllib.parse
from pathlib import Path
from typing import Callable

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QObject, QRunnable, QUrl, Signal

from resnet_studio.core.local_file import Rejected
from resnet_studio.core.session import ProviderError

_collector: GarbageCollector | None = None


def collect_garbage_on_the_gui_thread() -> None:
    """Python's cycle collector runs in whichever thread happens to allocate; a window it frees on a
    worker thread deadlocks in Qt's destructor (seen in CI: a closed window collected inside a catalog
    scan). pyqtgraph's GarbageCollector turns automatic collection off and collects on a GUI-thread timer."""
    global _collector
    if _collector is None:
        _collector = GarbageCollector(interval=1.0)


class WorkerSignals(QObject):
    result = Signal(object)
    error = Signal(str)
    finished = Signal()


class Worker(QRunnable):
    """Runs ``fn(emit, cancelled)``; ``emit(obj)`` sends a result, and every exception becomes one line."""

    def __init__(self, fn: Callable, cancel: threading.Event | None = None) -> None:
        super().__init__()
        self.fn = fn
        self.cancel = cancel or threading.Event()
        self.signals = WorkerSignals()

    def run(self) -> None:
        try:
            self.fn(self.signals.result.emit, self.cancel)
        except (Rejected, ProviderError) as exc:
            self.signals.error.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - a worker must never take the app down
            traceback.print_exc()
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.signals.error.emit(f"{type(exc).__name__}: {first}"[:300])
        finally:
            self.signals.finished.emit()


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def scan_folders(folders: list[Path], cap: int, emit_batch: Callable[[list[str]], None],
                 progress: Callable[[int, int], None], cancel: threading.Event) -> None:
    """Walk folders recursively for image files, in sorted order, stopping at ``cap`` or on cancel."""
    found = 0
    batch: list[str] = []
    for folder in folders:
        for root, dirs, files in os.walk(folder, followlinks=False):
            dirs.sort()
            for name in sorted(files):
                if cancel.is_set() or found >= cap:
                    emit_batch(batch)
                    return
                if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    batch.append(os.path.join(root, name))
                    found += 1
                    if len(batch) >= 64:
                        emit_batch(batch)
                        batch = []
                        progress(found, cap)
    emit_batch(batch)
    progress(found, cap)


def url_to_path(url: QUrl) -> str:
    """A local path from a file URL, keeping names that are not valid UTF-8; other URLs as text.

    ``QUrl.toLocalFile`` decodes percent-escapes as UTF-8 and so mangles such names; the raw
    bytes go through the filesystem encoding instead.
    """
    if not url.isLocalFile():
        return url.toString()
    encoded = bytes(url.toEncoded()).decode("ascii")
    return os.fsdecode(urllib.parse.unquote_to_bytes(urllib.parse.urlsplit(encoded).path))
