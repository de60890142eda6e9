"""The app's state between the widgets and the Qt-free side; all work goes to worker threads.

``Studio`` joins four parts: the model slot (``model_slot.ModelSlot``), the images
(``viewmodel.images.ImageRegistry``), the queue that classifies them (``viewmodel.images.ClassificationQueue``)
and the intake of drops, pastes and folders (``viewmodel.intake``), each running on one worker pool.
Widgets call the methods and subscribe to the signals. Results carry the generation of the model that
produced them, so a result from a model that was switched away is dropped.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtGui import QImage

from resnet_studio.core.catalog import Catalog
from resnet_studio.core.engine import Engine, Result
from resnet_studio.core.model_file import ModelInfo
from resnet_studio.core.session import SessionHandle
from resnet_studio.gui.viewmodel import intake, lineup
from resnet_studio.gui.viewmodel.images import Answer, ClassificationQueue, ImageEntry, ImageRegistry, classify_chunk

from .messages import IntakeBatch
from .model_slot import ModelSlot
from .qt_images import thumbnail
from .workers import Worker

# Images one worker classifies, in two half-batches so that the second decodes while the first runs.
# Longer chunks measured slower here (ResNet-50, 640x480 JPEGs: 64 per worker in batches of 8 ran
# 15.9-20.4 img/s against 21.8-23.0, three runs each); a chunk stops between two images on cancel.
BATCH = 8
# Images one drop, paste or folder adds at most; past it the notice points to `resnet-studio predict`.
INTAKE_CAP = 5000


class Studio(QObject):
    images_added = Signal(object)  # list[ImageEntry], in the order added
    image_updated = Signal(object)  # ImageEntry
    notice = Signal(str)  # a non-modal message for the user
    scan_progress = Signal(int, int)  # images found so far by the running intake, and the cap
    queue_changed = Signal(int, int)  # done, total for the current model
    removed_changed = Signal(object)  # frozenset of the blocks taken out

    def __init__(self, catalog: Catalog, device: str = "auto", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(3)  # classification, activations, model loading / intake
        self._workers: set[Worker] = set()
        self.models = ModelSlot(catalog, device, self.start, self)
        self.images = ImageRegistry()
        self.queue = ClassificationQueue()
        self.catalog = catalog
        self._chunk_cancel = threading.Event()
        self._intakes: set[threading.Event] = set()
        self._paste_dir = tempfile.TemporaryDirectory(prefix="resnet-studio-paste-")
        # The slot's signals, as Studio's own: subscribers need not know the parts.
        self.model_changed, self.model_failed = self.models.model_changed, self.models.model_failed
        self.model_loading, self.models_listed = self.models.model_loading, self.models.models_listed
        self.models.notice.connect(self.notice.emit)
        self.models.model_changed.connect(self._model_changed)

    # The parts' state, read by the views -----------------------------------------------------------------

    @property
    def info(self) -> ModelInfo | None:
        return self.models.info

    @property
    def handle(self) -> SessionHandle | None:
        return self.models.handle

    @property
    def engine(self) -> Engine:
        return self.models.engine

    @property
    def offers(self) -> list[lineup.Offer]:
        return self.models.offers

    @property
    def entries(self) -> dict[int, ImageEntry]:
        return self.images.entries

    @property
    def generation(self) -> int:
        return self.queue.generation

    @property
    def device(self) -> str:
        return self.models.device

    @property
    def precision(self) -> str:
        return self.models.precision

    @precision.setter
    def precision(self, value: str) -> None:
        self.models.precision = value

    @property
    def loading(self) -> int:
        return self.models.loading

    def refresh_models(self) -> None:
        self.models.refresh_models()

    def load_model(self, target) -> None:
        self.models.load_model(target)

    def current_offer(self) -> lineup.Offer | None:
        return self.models.current_offer()

    def set_precision(self, precision: str) -> None:
        self.models.set_precision(precision)

    def set_device(self, device: str) -> None:
        self.models.set_device(device)

    def set_preset(self, name: str) -> None:
        self.models.set_preset(name)

    def set_runtime(self, runtime: str) -> None:
        self.models.set_runtime(runtime)

    @property
    def removed(self) -> frozenset[str]:
        return self.engine.removed

    def set_removed(self, blocks) -> None:
        """Take ``blocks`` out of the network (none: restore all) and classify every image again, keeping
        each image's intact answer to compare with."""
        blocks = frozenset(blocks)
        if blocks == self.engine.removed:
            return
        for entry in self.images.entries.values():
            if not blocks:
                entry.intact = None
            elif not self.engine.removed:
                entry.intact = entry.result
        self.engine.removed = blocks
        self.removed_changed.emit(blocks)
        self._reclassify()

    def _model_changed(self, info: ModelInfo) -> None:
        # Another model, or the same one loaded again (a new device's engine, say): whole.
        lesioned = [e for e in self.images.entries.values() if e.intact is not None]
        if self.engine.removed or lesioned:
            self.engine.removed = frozenset()
            for entry in lesioned:
                entry.intact = None
            self.removed_changed.emit(frozenset())
        self._reclassify()

    def _reclassify(self) -> None:
        self._chunk_cancel.set()
        self.queue.restart(self.images.classifiable())
        self._dispatch()

    # Images in: every way runs off the GUI thread ----------------------------------------------------------

    def add_paths(self, paths: list[str]) -> None:
        """Files and folders given by path (the command line, File → Open)."""
        self._intake(lambda: ([], list(paths)))

    def add_uris(self, uris: list[str] | bytes) -> None:
        """Dropped or pasted URLs, or the raw bytes of a ``text/uri-list``: parsed on the worker."""
        self._intake(lambda: (intake.parse_uri_list(uris) if isinstance(uris, bytes) else list(uris), []))

    def add_image_bytes(self, data: bytes, suffix: str) -> None:
        """An image dropped or pasted as data: saved as it came, then read like any file."""
        number, folder = self.images.next_id(), Path(self._paste_dir.name)
        self._intake(lambda: ([], [intake.save_pasted(data, suffix, folder, number)]))

    def add_image(self, image: QImage) -> None:
        """An image pasted as pixels only (another Qt program's QImage): encoded to PNG on the worker."""
        if image.isNull():
            self.notice.emit("the clipboard holds no image")
            return
        path = str(Path(self._paste_dir.name) / f"pasted-{self.images.next_id()}.png")

        def saved():
            if not image.save(path, "PNG"):
                raise OSError(f"cannot keep the pasted image ({path})")
            return [], [path]

        self._intake(saved)

    def _intake(self, items) -> None:
        cancel = threading.Event()
        self._intakes.add(cancel)

        def work(emit, cancelled):
            uris, paths = items()
            found, capped, models = intake.resolve(uris, paths, INTAKE_CAP, cancelled,
                                                   lambda batch: emit(IntakeBatch(batch)))
            if capped:
                emit(IntakeBatch([], f"added the first {INTAKE_CAP:,} images; for more, classify with "
                                     f"'resnet-studio predict FOLDER --output results.csv'"))
            if models:
                emit(IntakeBatch([], f"opened the last of {len(models)} model files dropped" if len(models) > 1
                                 else None, model=models[-1]))

        worker = Worker(work, cancel)
        worker.signals.result.connect(self._intake_batch)
        worker.signals.error.connect(self.notice.emit)
        worker.signals.finished.connect(lambda: self._intakes.discard(cancel))
        self.start(worker)

    def _intake_batch(self, batch: IntakeBatch) -> None:
        added = [self.images.add(item.path, item.error) for item in batch.items]
        self.queue.pending.extend(e.id for e in added if e.error is None)
        if added:
            self.images_added.emit(added)
            self.scan_progress.emit(len(self.images.entries), INTAKE_CAP)
        for entry in added:
            if entry.error:
                self.notice.emit(entry.error)
        if batch.notice:
            self.notice.emit(batch.notice)
        if batch.model:
            self.load_model(batch.model)
        self._dispatch()

    def clear(self) -> None:
        self._stop_intake()
        self._chunk_cancel.set()
        self.images.clear()
        self.queue.restart([])
        self.queue_changed.emit(0, 0)

    def cancel(self) -> None:
        """Stop adding images and drop the queued ones that are not classified yet."""
        self._stop_intake()
        self._chunk_cancel.set()
        dropped = self.queue.cancel()
        self.engine.pool.terminate_all()
        if dropped:
            self.notice.emit(f"cancelled: {dropped} image(s) left unclassified")
        self.queue_changed.emit(self.queue.done, self.queue.done)

    def _stop_intake(self) -> None:
        for cancel in list(self._intakes):
            cancel.set()

    # Classification -----------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        queue, info = self.queue, self.info
        if queue.in_flight or not queue.pending or info is None:
            self.queue_changed.emit(queue.done, queue.total)
            return
        ids = [i for i in queue.take(BATCH) if i in self.images.entries]
        jobs = [(i, self.images.entries[i].path, self.images.entries[i].thumb is None) for i in ids]
        engine, generation = self.engine, queue.generation
        self._chunk_cancel = cancel = threading.Event()

        def work(emit, cancelled):
            for answer in classify_chunk(engine, info, generation, jobs, max(1, BATCH // 2), cancelled, thumbnail):
                emit(answer)

        worker = Worker(work, cancel)
        worker.signals.result.connect(self._classified)
        worker.signals.error.connect(self.notice.emit)
        worker.signals.finished.connect(self._chunk_done)
        self.queue_changed.emit(queue.done, queue.total)
        self.start(worker)

    def _classified(self, answer: Answer) -> None:
        entry = self.images.entries.get(answer.entry_id)
        if entry is None or not self.queue.answer(answer.generation, answer.entry_id):
            return  # the image was cleared, the model changed, or it was cancelled, since
        entry.result, entry.error = answer.result, answer.error
        if answer.thumb is not None:
            entry.thumb = answer.thumb
        self.image_updated.emit(entry)

    def _chunk_done(self) -> None:
        self.queue.in_flight = False
        self._dispatch()

    def start(self, worker: Worker) -> None:
        # Python must hold each worker (and so its signals object) until its last signal is delivered.
        worker.setAutoDelete(False)
        self._workers.add(worker)
        worker.signals.finished.connect(lambda: self._workers.discard(worker))
        self.pool.start(worker)

    def results(self) -> list[Result]:
        """Every image's result or reason, in the order the images were added; images still waiting are left out."""
        return self.images.results(self.info)

    def shutdown(self) -> None:
        self.cancel()  # stops the runs in progress, so the pool's threads can finish
        self.pool.waitForDone(5000)
        self._paste_dir.cleanup()
