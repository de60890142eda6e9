"""The app's state between the widgets and the Qt-free core; all work goes to worker threads.

Widgets call the methods and subscribe to the signals. Results carry the generation of
the model that produced them, so a result from a model that was switched away is dropped.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal
from PySide6.QtGui import QImage

from . import lineup
from .core.catalog import Catalog
from .core.engine import BlockParts, Engine, FeatureMaps, Result
from .core.intake import ImageRejected, load_image
from .core.preprocess import as_picture, covers_whole, crop_box
from .core.model_file import ModelInfo
from .core.session import CPU, SessionHandle, SessionPool
from .qt_images import thumbnail
from .workers import Worker, scan_folders

BATCH = 8
SCAN_CAP = 5000


@dataclass
class Details:
    entry_id: int
    preview: np.ndarray  # [H, W, 3] uint8, at most preview_side on its longer side
    model_input: np.ndarray  # [h, w, 3] uint8: the tensor the network was given, as a picture
    crop: tuple[float, float, float, float] | None  # what the model sees, in preview pixels; None: all of it
    maps: FeatureMaps | None = None
    cam: np.ndarray | None = None  # [H, W] in [0, 1], the preview's size
    cam_class: int | None = None
    cam_probability: float | None = None
    parts: BlockParts | None = None
    responses: np.ndarray | None = None  # [blocks] std of each F(x) for this image


@dataclass
class ImageEntry:
    id: int
    path: str
    result: Result | None = None
    error: str | None = None
    thumb: QImage | None = None

    @property
    def name(self) -> str:
        return Path(self.path).name or self.path


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
    details_ready = Signal(object)  # Details
    responses_ready = Signal(object, int)  # mean layer responses over the loaded images, and how many
    why_ready = Signal(object)  # one image through a plain and a residual model (request_why)
    activation_failed = Signal(str)

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
        self._detail_ticket = 0
        self._why_ticket = 0
        self._responses_key: tuple | None = None
        self._responses: tuple | None = None  # (mean layer responses, images) for _responses_key
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
            emit((lineup.offers(self.catalog, entries), settling))

        worker = Worker(work)
        worker.signals.result.connect(self._listed)
        worker.signals.error.connect(self.notice.emit)
        self._start(worker)

    def _listed(self, message) -> None:
        self.offers, settling = message
        self.models_listed.emit(self.offers)
        if settling:
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
            emit((info, engine.pool.get(info)))

        worker = Worker(work)
        worker.signals.result.connect(self._model_loaded)
        worker.signals.error.connect(self._model_load_failed)
        self._start(worker)

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

    def _model_loaded(self, message) -> None:
        self.loading -= 1
        # Runs of the model switched away from are stopped, not waited for: their results are dropped anyway.
        self.engine.pool.terminate_all()
        info, self.handle = message
        self.info = info
        self.generation += 1
        self._pending = list(self.entries)
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
        self.entries.clear()
        self._pending.clear()
        self._done = 0
        self.generation += 1  # anything in flight is now stale
        self.queue_changed.emit(0, 0)

    # Folder scanning ----------------------------------------------------------------------------------------

    def _scan(self, folders: list[Path]) -> None:
        cancel = threading.Event()
        self._scan_cancel = cancel
        self._scan_folders, self._scan_found = folders, 0

        def work(emit, cancelled):
            scan_folders(folders, SCAN_CAP, lambda batch: emit(("batch", list(batch))),
                         lambda found, cap: emit(("progress", found, cap)), cancelled)

        worker = Worker(work, cancel)
        worker.signals.result.connect(self._scan_event)
        worker.signals.error.connect(self.notice.emit)
        worker.signals.finished.connect(self._scan_done)
        self._start(worker)

    def _scan_event(self, event) -> None:
        if event[0] == "batch":
            for path in event[1]:
                self._add(path)
            self._scan_found += len(event[1])
            self._dispatch()
        else:
            self.scan_progress.emit(event[1], event[2])

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
        dropped = len(self._pending)
        self._pending.clear()
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

        def work(emit, cancel):
            # Per path, in decoding order: a path dropped twice is decoded, and answered, twice.
            thumbs: dict[str, list[QImage | None]] = {}
            wanted = {path for _, path, needs_thumb in jobs if needs_thumb}

            def keep_thumbnail(source: str, image: Image.Image) -> None:
                thumbs.setdefault(source, []).append(thumbnail(image) if source in wanted else None)

            answered = 0
            try:
                # Half-batches, so the second half decodes while the first runs.
                results = engine.classify_files(info, [path for _, path, _ in jobs], batch_size=max(1, BATCH // 2),
                                                decoded_hook=keep_thumbnail)
                for (entry_id, path, _), result in zip(jobs, results):
                    thumb = thumbs[path].pop(0) if thumbs.get(path) else None
                    emit((generation, entry_id, result if result.ok else None, result.error, thumb))
                    answered += 1
            except Exception as exc:  # noqa: BLE001 - each image of a failed batch says why, never "…"
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                for entry_id, path, _ in jobs[answered:]:
                    emit((generation, entry_id, None, reason, thumbs[path].pop(0) if thumbs.get(path) else None))

        worker = Worker(work)
        worker.signals.result.connect(self._classified)
        worker.signals.error.connect(self.notice.emit)
        worker.signals.finished.connect(self._batch_done)
        self._in_flight = True
        self.queue_changed.emit(self._done, self._done + len(self._pending) + len(batch))
        self._start(worker)

    def _classified(self, message) -> None:
        generation, entry_id, result, error, thumb = message
        entry = self.entries.get(entry_id)
        if entry is None or generation != self.generation:
            return  # the image was cleared, or the model changed since
        entry.result, entry.error = result, error
        if thumb is not None:
            entry.thumb = thumb
        self._done += 1
        self.image_updated.emit(entry)

    def _batch_done(self) -> None:
        self._in_flight = False
        self._dispatch()

    # Details of one image: a preview, and on request its feature maps and CAM ------------------------------

    def request_details(self, entry_id: int, activations: bool, block: str | None = None, top_n: int = 16,
                        class_index: int | None = None, preview_side: int = 480, weakest: bool = False,
                        parts: bool = False) -> None:
        """Newest request wins: results of older requests are dropped when they arrive."""
        entry = self.entries.get(entry_id)
        if entry is None or self.info is None or entry.error:
            return
        self._detail_ticket += 1
        ticket, info, engine, path = self._detail_ticket, self.info, self.engine, entry.path

        def work(emit, cancel):
            # One decode serves the preview and the model input: RGB -> L equals decoding to L directly.
            image = load_image(path, "RGB", min_side=max(preview_side, info.preprocess["resize"]))
            model_image = image if info.preprocess["color"] == "RGB" else image.convert("L")
            preview = image.copy()
            preview.thumbnail((preview_side, preview_side), Image.Resampling.BILINEAR)
            box = crop_box(image.size, info.preprocess)
            scale = preview.width / image.width
            details = Details(entry_id, np.asarray(preview), as_picture(engine.model_input(info, model_image),
                                                                        info.preprocess),
                              None if covers_whole(box, image.size) else tuple(v * scale for v in box))
            if activations and block and parts and block in info.block_parts:
                details.parts = engine.block_parts(info, model_image, block, min(top_n, 8))
                details.responses = engine.layer_responses(info, engine.model_input(info, model_image)[None])[0]
            elif activations and block:
                details.maps = engine.feature_maps(info, model_image, block, top_n, weakest)
            if activations and info.has_cam:
                found = engine.cam(info, model_image, class_index)
                heat = Image.fromarray(found.heat, mode="F").resize(preview.size, Image.Resampling.BILINEAR)
                details.cam = np.clip(np.asarray(heat), 0, 1)
                details.cam_class, details.cam_probability = found.class_index, found.probability
            emit((ticket, details))

        worker = Worker(work)
        worker.signals.result.connect(self._details_done)
        worker.signals.error.connect(self.activation_failed.emit)
        self._start(worker)

    def _details_done(self, message) -> None:
        ticket, details = message
        if ticket == self._detail_ticket:
            self.details_ready.emit(details)

    def _start(self, worker: Worker) -> None:
        # Python must hold each worker (and so its signals object) until its last signal is delivered.
        worker.setAutoDelete(False)
        self._workers.add(worker)
        worker.signals.finished.connect(lambda: self._workers.discard(worker))
        self.pool.start(worker)

    def request_why(self, entry_id: int, models: tuple[ModelInfo, ModelInfo], preview_side: int = 240) -> None:
        """One image through a plain and a residual model: CAM, top three and layer responses of each."""
        entry = self.entries.get(entry_id)
        if entry is None or entry.error:
            return
        self._why_ticket += 1
        ticket, engine, path = self._why_ticket, self.engine, entry.path

        def work(emit, cancel):
            image = load_image(path, "RGB", min_side=preview_side)
            preview = image.copy()
            preview.thumbnail((preview_side, preview_side), Image.Resampling.BILINEAR)
            comparison = {"name": entry.name, "preview": np.asarray(preview)}
            for side, info in zip(("plain", "residual"), models):
                model_image = image if info.preprocess["color"] == "RGB" else image.convert("L")
                batch = engine.model_input(info, model_image)[None]
                (result,) = engine.classify_arrays(info, batch, [path], k=3)
                found = engine.cam(info, model_image)
                heat = Image.fromarray(found.heat, mode="F").resize(preview.size, Image.Resampling.BILINEAR)
                comparison[side] = {
                    "title": f"{info.variant}: {result.predictions[0].label} {result.predictions[0].percent}",
                    "heat": np.clip(np.asarray(heat), 0, 1),
                    "lines": [f"{p.label} — {p.percent}" for p in result.predictions]
                    + (["unlike the training data"] if result.out_of_distribution else []),
                    "responses": engine.layer_responses(info, batch)[0]}
            emit((ticket, comparison))

        worker = Worker(work)
        worker.signals.result.connect(self._why_done)
        worker.signals.error.connect(self.activation_failed.emit)
        self._start(worker)

    def _why_done(self, message) -> None:
        ticket, comparison = message
        if ticket == self._why_ticket:
            self.why_ready.emit(comparison)

    def request_mean_responses(self, limit: int = 64) -> None:
        """The layer responses averaged over the loaded images (at most ``limit``), off the GUI thread."""
        info, engine, generation = self.info, self.engine, self.generation
        paths = [e.path for e in self.entries.values() if e.result is not None][:limit]
        if info is None or not info.block_parts or not paths:
            return
        # Every click in the block view asks; the same model and images are computed once.
        key = (generation, tuple(paths))
        if key == self._responses_key:
            if self._responses is not None:
                self.responses_ready.emit(*self._responses)
            return
        self._responses_key, self._responses = key, None

        def work(emit, cancel):
            rows = []
            for start in range(0, len(paths), BATCH):
                batch = []
                for path in paths[start:start + BATCH]:
                    try:
                        batch.append(engine.model_input(info, engine.decode(info, path)))
                    except ImageRejected:
                        continue
                if cancel.is_set():
                    return
                if batch:
                    rows.append(engine.layer_responses(info, np.stack(batch)))
            if rows:
                emit((generation, np.concatenate(rows).mean(axis=0), sum(len(r) for r in rows)))

        worker = Worker(work)
        worker.signals.result.connect(self._responses_done)
        worker.signals.error.connect(self.activation_failed.emit)
        self._start(worker)

    def _responses_done(self, message) -> None:
        generation, mean, count = message
        if generation == self.generation:
            self._responses = (mean, count)
            self.responses_ready.emit(mean, count)

    def results(self) -> list[Result]:
        """Every image's result or reason, in the order the images were added; images still waiting are left out."""
        out = []
        for entry in self.entries.values():
            if entry.result is not None:
                out.append(entry.result)
            elif entry.error is not None and self.info is not None:
                out.append(Result(entry.path, self.info.name, self.info.weights_source, error=entry.error,
                                  precision=self.info.precision))
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
