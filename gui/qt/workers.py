"""Work off the GUI thread: QRunnables whose results come back by signal."""

from __future__ import annotations

import threading
import traceback
from typing import Callable

from pyqtgraph.util.garbage_collector import GarbageCollector
from PySide6.QtCore import QObject, QRunnable, QUrl, Signal

from resnet_studio.core.local_file import Rejected, path_from_uri
from resnet_studio.core.session import ProviderError
from resnet_studio.core.text import first_line

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
            first = first_line(exc)
            self.signals.error.emit(f"{type(exc).__name__}: {first}"[:300])
        finally:
            self.signals.finished.emit()


def url_to_path(url: QUrl) -> str:
    """The local path of a dropped or pasted URL (``core.local_file.path_from_uri``); ``Rejected`` otherwise.

    ``QUrl.toLocalFile`` decodes percent-escapes as UTF-8 and so mangles names that are not; the
    encoded form keeps the raw bytes.
    """
    return path_from_uri(bytes(url.toEncoded()).decode("ascii"))
