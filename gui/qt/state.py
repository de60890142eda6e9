"""The app's state between the widgets and the Qt-free core; all work goes to worker threads.

Widgets call the methods and subscribe to the signals. Results carry the generation of
the model that produced them, so a result from a model that was switched away is dropped.
A closer look at images (feature maps, CAM, comparisons) is ``analyses.Analyses``, on the same pool.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
import time
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal
from PySide6.QtGui import QImage

from resnet_studio.gui.viewmodel import lineup
from resnet_studio.core.catalog import Catalog
from resnet_studio.core.engine import Engine, Result
from resnet_studio.core.model_file import ModelInfo
from resnet_studio.core.session import CPU, SessionHandle, SessionPool
from .messages import Classified, ImageEntry, ModelLoaded, ModelsListed, ScanBatch, ScanProgress
from .qt_images import thumbnail
from .workers import Worker, scan_folders

# Images one worker classifies, in two half-batches so that the second decodes while the first runs.
# Longer chunks measured slower here (ResNet-50, 640x480 JPEGs: 64 per worker in batches of 8 ran
# 15.9-20.4 img/s against 21.8-23.0, three runs each); a chunk stops between two images on cancel.
BATCH = 8
SCAN_CAP = 5000


class Studio(QObject):
    model_changed = Signal(object)  # ModelInfo
    model_failed = Signal(str)
    model_loading = Signal(str)  # what is being opened; model_changed or model_failed follows
    models_listed = Signal(object)  # list[lineup.Offer], after each look at the models folders
    image_added = Signal(object)  # ImageEntry
    image_updated = Signal(object)  # ImageEntry
    notice = Signal(str)  # a non-modal message for the user
    scan_progress = Signal(int, int)
    queue_changed = Signal(int, int)  # done, total for the current model

    def __init__(self, catalog: Catalog, device: str = "auto", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.device = device
        self.engine = Engine(SessionPool(device))
        self.info: ModelInfo | None = None
        self.handle: SessionHandle | None = None
        self.precision = "auto"  # or fp32 / fp16 / int8: which twin of a model to run
        self.offers: list[lineup.Offer] = []
        self.loading = 0  # model loads in flight
        self.generation = 0
        self.entries: dict[int, ImageEntry] = {}
        self._ids = itertools.count(1)
        self._pending: list[int] = []
        self._in_flight = False
        self._done = 0
        self._chunk_cancel = threading.Event()
        self._unanswered: set[int] = set()  # entries of the chunk in flight not classified yet
        self._scan_cancel: threading.Event | None = None
        self._scan_folders: list[Path] = []
        self._scan_found = 0
        self._clipboard_dir = tempfile.TemporaryDirectory(prefix="resnet-studio-paste-")
        self._workers: set[Worker] = set()
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(3)  # classification, activations, model loading / scanning

    # Models -------------------------------------------------------------------------------------------------

    def refresh_models(self) -> None:
        """Rescan the models folders off the GUI thread; ``models_listed`` brings the offers."""

        def work(emit, cancel):
            entries = self.catalog.rescan()
            # A file still being copied in reads as broken until it is complete.
            settling = any(e.origin == "user" and e.error and _recent(e.path) for e in entries)
            emit(ModelsListed(lineup.offers(self.catalog, entries), settling))

        worker = Worker(work)
        worker.signals.result.connect(self._listed)
        worker.signals.error.connect(self.notice.emit)
        self.start(worker)

    def _listed(self, message: ModelsListed) -> None:
        self.offers = message.offers
        self.models_listed.emit(self.offers)
        if message.settling:
            QTimer.singleShot(2000, self.refresh_models)

    def load_model(self, target: str | lineup.Offer | None) -> None:
        """Open a model off the GUI thread; on failure the current model stays active.

        ``target`` is a path or catalog name (that exact file), an offer (the twin that suits the
        device and the precision setting), or None for the default model.
        """
        engine, precision = self.engine, self.precision
        self.loading += 1
        self.model_loading.emit(target.title if isinstance(target, lineup.Offer)
                                else Path(target).name if target else "the default model")

        def work(emit, cancel):
            if target is None or isinstance(target, lineup.Offer):
                device = "cpu" if engine.pool.provider_plan()[0] == [CPU] else "cuda"
                offer = target or lineup.default_offer(self.catalog, lineup.offers(self.catalog))
                info = self.catalog.resolve(str(offer.pick(device, precision).path))
            else:
                info = self.catalog.resolve(target)
            # Creating the session now surfaces provider and loading errors before the switch.
            emit(ModelLoaded(info, engine.pool.get(info)))

        worker = Worker(work)
        worker.signals.result.connect(self._model_loaded)
        worker.signals.error.connect(self._model_load_failed)
        self.start(worker)

    def current_offer(self) -> lineup.Offer | None:
        return lineup.offer_for_path(self.offers, self.info.path) if self.info else None

    def set_precision(self, precision: str) -> None:
        """Run another twin of the current model from now on (auto: the device's fastest)."""
        self.precision = precision
        offer = self.current_offer()
        if offer is not None:
            self.load_model(offer)

    def set_device(self, device: str) -> None:
        """Use another device from now on; the current model reloads (and re-classifies) on it."""
        self.device = device
        self.engine.pool.terminate_all()
        self.engine = Engine(SessionPool(device))
        if self.info is not None:
            self.load_model(self.current_offer() or str(self.info.path))

    def _model_load_failed(self, reason: str) -> None:
        self.loading -= 1
        self.model_failed.emit(reason)

    def _model_loaded(self, message: ModelLoaded) -> None:
        self.loading -= 1
        # Runs of the model switched away from are stopped, not waited for: their results are dropped anyway.
        self._chunk_cancel.set()
        self.engine.pool.terminate_all()
        info, self.handle = message.info, message.handle
        self.info = info
        self.generation += 1
        self._pending = list(self.entries)
        self._unanswered.clear()
        self._done = 0
        self.model_changed.emit(info)
        self._dispatch()

    # Images -------------------------------------------------------------------------------------------------

    def add_paths(self, paths: list[str]) -> None:
        folders = []
        for raw in paths:
            if "://" in raw and not raw.startswith("file://"):
                self._add_failed(raw, f"{raw}: remote URLs are not fetched; save the image locally first")
            elif Path(raw).is_dir():
                folders.append(Path(raw))
            else:
                self._add(raw)
        if folders:
            self._scan(folders)
        self._dispatch()

    def add_image(self, image: QImage) -> None:
        """A pasted image: saved as a PNG in a private temp folder, then read like any file."""
        path = Path(self._clipboard_dir.name) / f"pasted-{next(self._ids)}.png"
        if image.isNull() or not image.save(str(path), "PNG"):
            self.notice.emit("the clipboard holds no image")
            return
        self.add_paths([str(path)])

    def _add(self, path: str) -> None:
        entry = ImageEntry(next(self._ids), path)
        self.entries[entry.id] = entry
        self._pending.append(entry.id)
        self.image_added.emit(entry)

    def _add_failed(self, path: str, reason: str) -> None:
        entry = ImageEntry(next(self._ids), path, error=reason)
        self.entries[entry.id] = entry
        self.image_added.emit(entry)
        self.notice.emit(reason)

    def clear(self) -> None:
        self._chunk_cancel.set()
        self.entries.clear()
        self._pending.clear()
        self._unanswered.clear()
        self._done = 0
        self.generation += 1  # anything in flight is now stale
        self.queue_changed.emit(0, 0)

    # Folder scanning ----------------------------------------------------------------------------------------

    def _scan(self, folders: list[Path]) -> None:
        cancel = threading.Event()
        self._scan_cancel = cancel
        self._scan_folders, self._scan_found = folders, 0

        def work(emit, cancelled):
            scan_folders(folders, SCAN_CAP, lambda batch: emit(ScanBatch(list(batch))),
                         lambda found, cap: emit(ScanProgress(found, cap)), cancelled)

        worker = Worker(work, cancel)
        worker.signals.result.connect(self._scan_event)
        worker.signals.error.connect(self.notice.emit)
        worker.signals.finished.connect(self._scan_done)
        self.start(worker)

    def _scan_event(self, event: ScanBatch | ScanProgress) -> None:
        if isinstance(event, ScanBatch):
            for path in event.paths:
                self._add(path)
            self._scan_found += len(event.paths)
            self._dispatch()
        else:
            self.scan_progress.emit(event.found, event.cap)

    def _scan_done(self) -> None:
        if self._scan_found >= SCAN_CAP:
            self.notice.emit(f"stopped scanning at {SCAN_CAP} images")
        elif self._scan_found == 0:
            for folder in self._scan_folders:
                self._add_failed(str(folder), f"{folder}: is a directory with no images in it")
        self._scan_cancel = None

    def cancel(self) -> None:
        """Stop scanning and drop the queued images that are not classified yet."""
        if self._scan_cancel is not None:
            self._scan_cancel.set()
        self._chunk_cancel.set()
        dropped = len(self._pending) + len(self._unanswered)
        self._pending.clear()
        self._unanswered.clear()
        self.engine.pool.terminate_all()
        if dropped:
            self.notice.emit(f"cancelled: {dropped} image(s) left unclassified")
        self.queue_changed.emit(self._done, self._done)

    # Classification -----------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        if self._in_flight or not self._pending or self.info is None:
            self.queue_changed.emit(self._done, self._done + len(self._pending))
            return
        batch = [self.entries[i] for i in self._pending[:BATCH] if i in self.entries]
        del self._pending[:BATCH]
        info, generation, engine = self.info, self.generation, self.engine
        jobs = [(e.id, e.path, e.thumb is None) for e in batch]
        self._chunk_cancel = cancel = threading.Event()
        self._unanswered = {e.id for e in batch}

        def work(emit, cancelled):
            # Per path, in decoding order: a path dropped twice is decoded, and answered, twice.
            thumbs: dict[str, list[QImage | None]] = {}
            wanted = {path for _, path, needs_thumb in jobs if needs_thumb}

            def keep_thumbnail(source: str, image: Image.Image) -> None:
                thumbs.setdefault(source, []).append(thumbnail(image) if source in wanted else None)

            answered = 0
            results = engine.classify_files(info, [path for _, path, _ in jobs], batch_size=max(1, BATCH // 2),
                                            decoded_hook=keep_thumbnail)
            try:
                for (entry_id, path, _), result in zip(jobs, results):
                    if cancelled.is_set():
                        return
                    thumb = thumbs[path].pop(0) if thumbs.get(path) else None
                    emit(Classified(generation, entry_id, result if result.ok else None, result.error, thumb))
                    answered += 1
            except Exception as exc:  # noqa: BLE001 - each image of a failed batch says why, never "…"
                if cancelled.is_set():
                    return  # stopped on purpose: what is left stays unclassified
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                for entry_id, path, _ in jobs[answered:]:
                    emit(Classified(generation, entry_id, None, reason,
                                    thumbs[path].pop(0) if thumbs.get(path) else None))
            finally:
                results.close()  # stops the decoding thread of a chunk left early

        worker = Worker(work, cancel)
        worker.signals.result.connect(self._classified)
        worker.signals.error.connect(self.notice.emit)
        worker.signals.finished.connect(self._batch_done)
        self._in_flight = True
        self.queue_changed.emit(self._done, self._done + len(self._pending) + len(batch))
        self.start(worker)

    def _classified(self, message: Classified) -> None:
        entry = self.entries.get(message.entry_id)
        if entry is None or message.generation != self.generation or message.entry_id not in self._unanswered:
            return  # the image was cleared, the model changed, or it was cancelled, since
        self._unanswered.discard(message.entry_id)
        entry.result, entry.error = message.result, message.error
        if message.thumb is not None:
            entry.thumb = message.thumb
        self._done += 1
        self.image_updated.emit(entry)

    def _batch_done(self) -> None:
        self._in_flight = False
        self._dispatch()

    def start(self, worker: Worker) -> None:
        # Python must hold each worker (and so its signals object) until its last signal is delivered.
        worker.setAutoDelete(False)
        self._workers.add(worker)
        worker.signals.finished.connect(lambda: self._workers.discard(worker))
        self.pool.start(worker)

    def results(self) -> list[Result]:
        """Every image's result or reason, in the order the images were added; images still waiting are left out."""
        out = []
        for entry in self.entries.values():
            if entry.result is not None:
                out.append(entry.result)
            elif entry.error is not None and self.info is not None:
                out.append(Result.failure(self.info, entry.path, entry.error))
        return out

    def shutdown(self) -> None:
        self.cancel()  # stops the runs in progress, so the pool's threads can finish
        self.pool.waitForDone(5000)
        self._clipboard_dir.cleanup()


def _recent(path: Path, seconds: float = 10.0) -> bool:
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return False
