"""Looking closer at one image or at all of them: the preview, feature maps, block parts and CAM
of one image; one image through a plain and a residual model; the mean layer responses.

Each runs on Studio's worker pool. The newest request of a kind wins: an answer for an older one,
or for a model that has been switched away, is dropped.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject, Signal

from resnet_studio.core.intake import ImageRejected, load_image
from resnet_studio.core.model_file import ModelInfo
from resnet_studio.core.preprocess import as_picture, covers_whole, crop_box
from resnet_studio.core.score_cam import score_cam
from .messages import Comparison, Details, DetailsDone, MeanResponses, WhyDone, WhySide
from .state import BATCH, Studio
from .workers import Worker


def heat_at(heat: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A class activation map resized to the preview it is drawn over, in [0, 1]."""
    return np.clip(np.asarray(Image.fromarray(heat, mode="F").resize(size, Image.Resampling.BILINEAR)), 0, 1)


class Analyses(QObject):
    details_ready = Signal(object)  # Details
    responses_ready = Signal(object, int, object)  # mean layer responses, how many images, mean ‖F(x)‖/‖x‖
    why_ready = Signal(object)  # Comparison: one image through a plain and a residual model (request_why)
    failed = Signal(str)

    def __init__(self, studio: Studio) -> None:
        super().__init__(studio)
        self.studio = studio
        self._detail_ticket = 0
        self._why_ticket = 0
        self._responses_key: tuple | None = None
        self._responses: tuple | None = None  # (mean layer responses, images) for _responses_key

    def request_details(self, entry_id: int, activations: bool, block: str | None = None, top_n: int = 16,
                        class_index: int | None = None, preview_side: int = 480, weakest: bool = False,
                        parts: bool = False, shared_cam: bool = False, score_cam_block: str | None = None) -> None:
        """Newest request wins: results of older requests are dropped when they arrive."""
        entry = self.studio.entries.get(entry_id)
        if entry is None or self.studio.info is None or entry.error:
            return
        self._detail_ticket += 1
        ticket, info, engine, path = self._detail_ticket, self.studio.info, self.studio.engine, entry.path

        def work(emit, cancel):
            # One decode serves the preview and the model input: RGB -> L equals decoding to L directly.
            image = load_image(path, "RGB", min_side=max(preview_side, info.preprocess.resize))
            model_image = image if info.preprocess.decode_mode == "RGB" else image.convert("L")
            preview = image.copy()
            preview.thumbnail((preview_side, preview_side), Image.Resampling.BILINEAR)
            box = crop_box(image.size, info.preprocess)
            scale = preview.width / image.width
            details = Details(entry_id, np.asarray(preview), as_picture(engine.model_input(info, model_image),
                                                                        info.preprocess),
                              None if covers_whole(box, image.size) else tuple(v * scale for v in box))
            if activations and block and parts and info.taps.has(block, "branch"):
                details.parts = engine.block_parts(info, model_image, block, min(top_n, 8))
                details.responses = engine.layer_responses(info, engine.model_input(info, model_image)[None])[0]
            elif activations and block:
                details.maps = engine.feature_maps(info, model_image, block, top_n, weakest)
            if activations and score_cam_block and info.taps.has(score_cam_block, "output"):
                found, details.cam_note = score_cam(engine, info, model_image, score_cam_block, class_index)
                details.cam = replace(found, heat=heat_at(found.heat, preview.size))
                details.cam_method = f"Score-CAM · {score_cam_block}"
            elif activations and info.has_cam:
                found = engine.cam(info, model_image, class_index, shared_cam)
                details.cam = replace(found, heat=heat_at(found.heat, preview.size))
            emit(DetailsDone(ticket, details))

        worker = Worker(work)
        worker.signals.result.connect(self._details_done)
        worker.signals.error.connect(self.failed.emit)
        self.studio.start(worker)

    def _details_done(self, message: DetailsDone) -> None:
        if message.ticket == self._detail_ticket:
            self.details_ready.emit(message.details)

    def request_why(self, entry_id: int, models: tuple[ModelInfo, ModelInfo], preview_side: int = 240) -> None:
        """One image through a plain and a residual model: CAM, top three and layer responses of each."""
        entry = self.studio.entries.get(entry_id)
        if entry is None or entry.error:
            return
        self._why_ticket += 1
        ticket, engine, path = self._why_ticket, self.studio.engine, entry.path

        def work(emit, cancel):
            image = load_image(path, "RGB", min_side=preview_side)
            preview = image.copy()
            preview.thumbnail((preview_side, preview_side), Image.Resampling.BILINEAR)
            sides = []
            for info in models:
                model_image = image if info.preprocess.decode_mode == "RGB" else image.convert("L")
                batch = engine.model_input(info, model_image)[None]
                (result,) = engine.classify_arrays(info, batch, [path], k=3)
                found = engine.cam(info, model_image)
                sides.append(WhySide(
                    f"{info.variant}: {result.predictions[0].label} {result.predictions[0].percent}",
                    heat_at(found.heat, preview.size),
                    [f"{p.label} — {p.percent}" for p in result.predictions]
                    + (["unlike the training data"] if result.out_of_distribution else []),
                    engine.layer_responses(info, batch)[0]))
            emit(WhyDone(ticket, Comparison(entry.name, np.asarray(preview), *sides)))

        worker = Worker(work)
        worker.signals.result.connect(self._why_done)
        worker.signals.error.connect(self.failed.emit)
        self.studio.start(worker)

    def _why_done(self, message: WhyDone) -> None:
        if message.ticket == self._why_ticket:
            self.why_ready.emit(message.comparison)

    def request_mean_responses(self, limit: int = 64) -> None:
        """The layer responses averaged over the loaded images (at most ``limit``), off the GUI thread."""
        studio = self.studio
        info, engine, generation = studio.info, studio.engine, studio.generation
        paths = [e.path for e in studio.entries.values() if e.result is not None][:limit]
        if info is None or not info.taps.blocks("branch") or not paths:
            return
        # Every click in the block view asks; the same model and images are computed once.
        key = (generation, tuple(paths))
        if key == self._responses_key:
            if self._responses is not None:
                self.responses_ready.emit(*self._responses)
            return
        self._responses_key, self._responses = key, None

        def work(emit, cancel):
            rows, near = [], []
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
                    near.append(engine.identity_closeness(info, np.stack(batch)))
            if rows:
                emit(MeanResponses(generation, np.concatenate(rows).mean(axis=0), sum(len(r) for r in rows),
                                   np.concatenate(near).mean(axis=0)))

        worker = Worker(work)
        worker.signals.result.connect(self._responses_done)
        worker.signals.error.connect(self.failed.emit)
        self.studio.start(worker)

    def _responses_done(self, message: MeanResponses) -> None:
        if message.generation == self.studio.generation:
            self._responses = (message.mean, message.images, message.closeness)
            self.responses_ready.emit(message.mean, message.images, message.closeness)
