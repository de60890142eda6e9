"""What the model picker's menu starts: exports in a child process, deleting files, int8 twins, and
fitting the out-of-distribution warning; with the bars that show their progress."""

from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from resnet_studio.gui.viewmodel import lineup
from .calibrate_job import CalibrateJob
from resnet_studio.core.catalog import Catalog
from resnet_studio.core.limits import MIN_CALIBRATION_IMAGES
from resnet_studio.core.walk import files_in
from resnet_studio.core.model_file import ModelRejected
from resnet_studio.core.text import shown
from resnet_studio.core.export_protocol import STAGES

from .export_job import ExportJob
from .workers import Worker
from .state import Studio
from .widgets.bars import BusyBar, ExportBar
from .widgets.status_line import StatusLine



class ModelActions(QObject):
    """Owned by the window through Qt's parent link only: a Python reference back to it would make a
    cycle, and Python's collector may break cycles on a worker thread, where deleting a widget deadlocks."""

    notice = Signal(str)
    export_landed = Signal(object)  # the first file a finished export wrote: it loads once it is listed

    def __init__(self, window: QWidget, studio: Studio, catalog: Catalog, export_bar: ExportBar, busy: BusyBar,
                 status_line: StatusLine) -> None:
        super().__init__(window)
        self.studio, self.catalog = studio, catalog
        self.export_bar, self.busy, self.status_line = export_bar, busy, status_line
        self.export_job: ExportJob | None = None
        self.calibrate_job: CalibrateJob | None = None
        self._fallback_variant: str | None = None  # the variant whose ImageNet download just failed
        export_bar.cancel.clicked.connect(self.cancel_export)
        export_bar.fallback.clicked.connect(self.fallback_to_random)

    def stop(self) -> None:
        """On closing: a running export is cancelled and waited for."""
        if self.export_job is not None:
            self.export_job.cancel()
            self.export_job.wait()

    def start_export(self, variant: str, weights: str, precisions: list[str] | None = None,
                      calibration: str | None = None) -> None:
        """Export ``variant`` in a child process; its files load by themselves when it has finished."""
        if self.export_job is not None:
            self.notice.emit(f"an export of {self.export_job.variant} is already running; cancel it first")
            return
        if precisions is None:
            handle = self.studio.handle
            precisions = ["fp32", "fp16"] if handle is not None and handle.provider.startswith("CUDA") else ["fp32"]
        checkpoint = next((o.checkpoint for o in self.studio.offers if o.variant == variant and o.checkpoint), None)
        download = weights.startswith("imagenet") and checkpoint is not None and not checkpoint.cache_path.is_file()
        job = ExportJob(variant, weights, self.catalog.models_dir, precisions, calibration, download, self)
        job.stage.connect(self._export_stage)
        job.finished.connect(self._export_finished)
        job.failed.connect(self._export_failed)
        job.cancelled.connect(self._export_cancelled)
        self.export_job = job
        what = "ImageNet" if weights.startswith("imagenet") else weights
        self._export_title = f"Exporting {variant} ({what} weights, {', '.join(precisions)})"
        self.export_bar.start(f"{self._export_title}: starting resnet-export…")
        job.start()

    def _export_stage(self, precision: str, stage: str, done, total) -> None:
        job = self.export_job
        step, share = job.fraction(precision, stage, done, total)
        what = STAGES[stage] + (f" ({precision})" if len(job.precisions) > 1 and precision else "")
        if stage == "download" and isinstance(done, int):
            what += f": {done / 1e6:.0f}" + (f" of {total / 1e6:.0f} MB" if isinstance(total, int) else " MB")
        self.export_bar.stage(f"{self._export_title} — step {step + 1} of {len(job.steps)}: {what}", share)

    def _export_finished(self, paths: list[Path]) -> None:
        self.export_job = None
        self.export_bar.hide()
        self.status_line.show_message(shown(f"exported {', '.join(p.name for p in paths)}", 300), 8000)
        self.export_landed.emit(paths[0])

    def _export_failed(self, message: str, download) -> None:
        job, self.export_job = self.export_job, None
        offline = download is not None and job is not None and job.weights.startswith("imagenet")
        self._fallback_variant = job.variant if offline else None
        if offline:
            message = (f"Could not download the ImageNet weights from {download.get('url')}. A file downloaded by "
                       f"hand is picked up at {download.get('cache_path')}.")
        self.export_bar.fail(message, offer_fallback=offline)

    def _export_cancelled(self) -> None:
        self.export_job = None
        self.export_bar.hide()
        self.status_line.show_message("export cancelled; nothing was written", 8000)

    def cancel_export(self) -> None:
        if self.export_job is not None:
            self.export_bar.stage("Cancelling…", None)
            self.export_job.cancel()
        else:
            self.export_bar.hide()

    def fallback_to_random(self) -> None:
        variant = self._fallback_variant
        self.export_bar.hide()
        if variant:
            self.start_export(variant, "random")

    def save_self_describing(self) -> None:
        """The open file, from another tool, saved with our metadata (``resnet-export adopt``), then opened."""
        info = self.studio.info
        if info is None or info.discovery is None:
            self.notice.emit("this model describes itself already")
            return
        suggested = self.catalog.models_dir / f"{info.path.stem}-described.onnx"
        path, _ = QFileDialog.getSaveFileName(self.parent(), "Save as self-describing", str(suggested),
                                              "ONNX models (*.onnx)")
        if not path:
            return
        preset = info.preprocess if info.discovery.preset == "custom" else info.discovery.preset

        def work(emit, cancel):
            from resnet_studio.export.adopt import adopt
            from resnet_studio.export.errors import ExportError

            try:
                emit(adopt(info.path, Path(path), preset))
            except ExportError as exc:
                raise ModelRejected(str(exc)) from None

        worker = Worker(work)
        worker.signals.result.connect(self._adopted)
        worker.signals.error.connect(self.notice.emit)
        self.status_line.show_message(f"saving {shown(Path(path).name)}…")
        self.studio.start(worker)

    def _adopted(self, report: dict) -> None:
        self.status_line.show_message(shown(f"saved {report['to']}: {report['blocks']} blocks, preset "
                                            f"{report['preset']}; opening it", 300), 8000)
        self.studio.load_model(report["to"])

    def reveal(self, offer: lineup.Offer) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(offer.paths()[0].parent)))

    def delete(self, offer: lineup.Offer) -> None:
        names = "\n".join(shown(p.name) for p in offer.paths())
        box = QMessageBox(QMessageBox.Icon.Question, "Delete model", f"Delete {shown(offer.title)}? These files are removed:"
                          f"\n\n{names}", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self.parent())
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if box.exec() != QMessageBox.StandardButton.Yes:
            return
        try:
            lineup.delete(offer)
        except ModelRejected as exc:
            self.notice.emit(str(exc))
        self.studio.refresh_models()

    def _enough_images(self, folder: str, purpose: str) -> bool:
        # Stops at the 64th image: a huge folder must not hold up the GUI thread.
        count = sum(1 for _ in itertools.islice(files_in(folder), MIN_CALIBRATION_IMAGES))
        if count < MIN_CALIBRATION_IMAGES:
            self.notice.emit(f"{folder} holds {count} images; {purpose} needs {MIN_CALIBRATION_IMAGES} or more")
        return count >= MIN_CALIBRATION_IMAGES

    def make_twin(self, offer: lineup.Offer) -> None:
        folder = self.parent().dialogs.folder_path(f"Images to calibrate int8 {offer.title} on "
                                                   f"({MIN_CALIBRATION_IMAGES} or more, like those you classify)")
        if not folder or not self._enough_images(folder, "int8 calibration"):
            return
        info = offer.info
        self.start_export(offer.variant, str(info.meta.weights.source if info.meta.weights.source != "unknown" else offer.weights), ["int8"], folder)

    def choose_calibration(self, offer: lineup.Offer) -> None:
        folder = self.parent().dialogs.folder_path(
            f"{MIN_CALIBRATION_IMAGES} or more typical images for {offer.title}: the warning will flag what is unlike "
            f"them")
        if folder:
            self.calibrate(offer, folder)

    def calibrate(self, offer: lineup.Offer, folder: str) -> None:
        """Fit the out-of-distribution warning of every twin of ``offer`` to ``folder``, in a child process."""
        if not self._enough_images(folder, "fitting the warning"):
            return
        job = CalibrateJob(offer.paths(), folder, f"images like those in {Path(folder).name}", self)
        self.calibrate_job = job
        self.busy.start(f"Fitting the warning of {offer.title} to {Path(folder).name}…")

        def done(paths) -> None:
            self.busy.stop(0)
            self.status_line.show_message(f"{offer.title}: warning fitted to {folder}", 8000)
            self.studio.refresh_models()
            if self.studio.info is not None and self.studio.info.path in paths:
                self.studio.load_model(offer)
            self.calibrate_job = None

        def failed(reason: str) -> None:
            self.busy.stop(0)
            self.notice.emit(f"fitting the warning failed: {reason}")
            self.calibrate_job = None

        job.finished.connect(done)
        job.failed.connect(failed)
        job.start()
