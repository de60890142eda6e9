"""The model the app runs: listing the offers, loading one off the GUI thread, device and precision."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from resnet_studio.core.catalog import Catalog
from resnet_studio.core.engine import Engine
from resnet_studio.core.model_file import ModelInfo
from resnet_studio.core.session import CPU, SessionHandle, SessionPool
from resnet_studio.core.presets import remember
from resnet_studio.gui.viewmodel import lineup

from .messages import ModelLoaded, ModelsListed
from .workers import Worker


class ModelSlot(QObject):
    model_changed = Signal(object)  # ModelInfo
    model_failed = Signal(str)
    model_loading = Signal(str)  # what is being opened; model_changed or model_failed follows
    models_listed = Signal(object)  # list[lineup.Offer], after each look at the models folders
    notice = Signal(str)

    def __init__(self, catalog: Catalog, device: str, start: Callable[[Worker], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.device = device
        self.runtime = "auto"  # the CPU runtime: auto, onnxruntime or openvino
        self.engine = Engine(SessionPool(device))
        self.info: ModelInfo | None = None
        self.handle: SessionHandle | None = None
        self.precision = "auto"  # or fp32 / fp16 / int8: which twin of a model to run
        self.offers: list[lineup.Offer] = []
        self.loading = 0  # model loads in flight
        # The newest load asked for: one asked for earlier that lands (or fails) later is dropped, so the
        # last choice wins whatever order the loads finish in.
        self._ticket = 0
        self._start = start

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
        self._start(worker)

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
        engine, precision, catalog = self.engine, self.precision, self.catalog
        ticket = self._load_asked()
        self.model_loading.emit(target.title if isinstance(target, lineup.Offer)
                                else Path(target).name if target else "the default model")

        def work(emit, cancel):
            if target is None or isinstance(target, lineup.Offer):
                device = "cpu" if engine.pool.provider_plan()[0] == [CPU] else "cuda"
                offer = target or lineup.default_offer(catalog, lineup.offers(catalog))
                info = catalog.resolve(str(offer.pick(device, precision).path))
            else:
                info = catalog.resolve(target)
            # Creating the session now surfaces provider and loading errors before the switch.
            emit(ModelLoaded(info, engine.pool.get(info)))

        self._start_load(work, ticket)

    def _load_asked(self) -> int:
        """Count a load in flight and give it the newest ticket."""
        self.loading += 1
        self._ticket += 1
        return self._ticket

    def _start_load(self, work, ticket: int) -> None:
        worker = Worker(work)
        worker.signals.result.connect(lambda message: self._loaded(message, ticket))
        worker.signals.error.connect(lambda reason: self._failed(reason, ticket))
        self._start(worker)

    def _failed(self, reason: str, ticket: int) -> None:
        self.loading -= 1
        if ticket == self._ticket:
            self.model_failed.emit(reason)

    def _loaded(self, message: ModelLoaded, ticket: int) -> None:
        self.loading -= 1
        if ticket != self._ticket:
            return
        # Runs of the model switched away from are stopped, not waited for: their results are dropped anyway.
        self.engine.pool.terminate_all()
        self.info, self.handle = message.info, message.handle
        self.model_changed.emit(message.info)

    def current_offer(self) -> lineup.Offer | None:
        return lineup.offer_for_path(self.offers, self.info.path) if self.info else None

    def set_precision(self, precision: str) -> None:
        """Run another twin of the current model from now on (auto: the device's fastest)."""
        self.precision = precision
        offer = self.current_offer()
        if offer is not None:
            self.load_model(offer)

    def set_preset(self, name: str) -> None:
        """Read the current file (one without our metadata) with another preprocessing preset, remembered
        for it by its sha256, and classify again."""
        info, catalog, engine = self.info, self.catalog, self.engine
        if info is None or info.discovery is None:
            return
        ticket = self._load_asked()
        self.model_loading.emit(f"{info.path.name} with {name} preprocessing")

        def work(emit, cancel):
            remember(info.identity.sha256, name)
            changed = catalog.reread(info.path)
            emit(ModelLoaded(changed, engine.pool.get(changed)))

        self._start_load(work, ticket)

    def set_device(self, device: str) -> None:
        """Use another device from now on; the current model reloads (and re-classifies) on it."""
        self.device = device
        self._new_engine()

    def set_runtime(self, runtime: str) -> None:
        """Run on another CPU runtime from now on (auto: the one this CPU runs fastest)."""
        self.runtime = runtime
        self._new_engine()

    def _new_engine(self) -> None:
        self.engine.pool.terminate_all()
        self.engine = Engine(SessionPool(self.device, runtime=self.runtime))
        if self.info is not None:
            self.load_model(self.current_offer() or str(self.info.path))


def _recent(path: Path, seconds: float = 10.0) -> bool:
    try:
        return time.time() - path.stat().st_mtime < seconds
    except OSError:
        return False
