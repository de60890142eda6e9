"""The main window: image list, predictions, activations and structure, wired to ``Studio``."""

from __future__ import annotations

import itertools
import os
import sys
import urllib.parse
from pathlib import Path

from PySide6.QtCore import QByteArray, QFileSystemWatcher, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QMainWindow, QMessageBox, QProgressBar, QPushButton,
                               QSplitter, QStyle, QTabWidget, QVBoxLayout, QWidget)

from . import lineup
from .core.catalog import Catalog, shipped_models_dir
from .core.model_file import ModelInfo, ModelRejected
from .core import report
from .core.naming import model_title
from .core import why_residual
from .core.preprocess import describe_input
from .core.text import shown
from .calibrate_job import CalibrateJob
from .export_job import STAGES, ExportJob
from .plain_text import plain_label, tooltip, warning_label
from .state import Details, ImageEntry, Studio
from .widgets.activations import NO_IMAGES_HINT, ActivationsPanel
from .widgets.bars import BusyBar, ExportBar
from .widgets.image_list import ImageList
from .widgets.input_view import InputView
from .widgets.model_picker import ModelPicker
from .widgets.predictions import PredictionsPanel
from .widgets.status_line import StatusLine
from .widgets.structure_panel import StructurePanel
from .widgets.why_residual import WhyResidualPanel
from .workers import IMAGE_SUFFIXES

TABS = ("Predictions", "Activations", "Structure", "Why residual?")
PRECISION_CHOICES = ("auto", "fp32", "fp16", "int8")
MIN_CALIBRATION_IMAGES = 64


class MainWindow(QMainWindow):
    def __init__(self, catalog: Catalog, settings: QSettings, device: str | None = None,
                 model: str | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.catalog = catalog
        device = device or self._setting("device", "auto", str)
        self.studio = Studio(catalog, device if device in ("auto", "cpu", "cuda") else "auto", self)
        self.setWindowTitle("ResNet Studio")
        self.setAcceptDrops(True)
        self._compare: str = ""
        self.export_job: ExportJob | None = None
        self.calibrate_job: CalibrateJob | None = None
        self._fell_back = False
        self._fallback_variant: str | None = None  # the variant whose ImageNet download just failed
        self._load_when_listed: Path | None = None  # an export that just landed loads once it is listed

        self.picker = ModelPicker()
        self.export_bar = ExportBar()
        self.list = ImageList()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.cancel = QPushButton("Cancel")
        self.cancel.hide()
        self.predictions = PredictionsPanel()
        self.input_view = InputView()
        self.busy = BusyBar()
        self.activations = ActivationsPanel()
        self.structure = StructurePanel()
        self.why = WhyResidualPanel()
        self.notice = warning_label("notice")
        self._notice_timer = QTimer(self, singleShot=True, interval=8000, timeout=self.notice.hide)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.notice)
        left_layout.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel)
        left_layout.addLayout(row)
        prediction_page = QWidget()
        prediction_layout = QHBoxLayout(prediction_page)
        prediction_layout.addWidget(self.input_view, 1)
        prediction_layout.addWidget(self.predictions, 1)
        self.tabs = QTabWidget()
        for page, title in zip((prediction_page, self.activations, self.structure, self.why), TABS):
            self.tabs.addTab(page, title)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.busy)
        right_layout.addWidget(self.tabs, 1)
        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([300, 900])
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.addWidget(self.export_bar)
        central_layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.setWindowIcon(QIcon(str(shipped_models_dir() / "icons" / "resnet-studio.svg")))
        self._build_menus()
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        style = self.style()
        # The picker comes first: a narrow window pushes the last toolbar items into an overflow menu.
        toolbar.addWidget(plain_label(" Model "))
        toolbar.addWidget(self.picker)
        toolbar.addSeparator()
        # The desktop theme's icons where there is one, else the style's own.
        for action, theme, fallback in (
                (self.open_action, "document-open", QStyle.StandardPixmap.SP_DialogOpenButton),
                (self.folder_action, "folder-open", QStyle.StandardPixmap.SP_DirOpenIcon),
                (self.paste_action, "edit-paste", QStyle.StandardPixmap.SP_FileIcon),
                (self.clear_action, "edit-clear", QStyle.StandardPixmap.SP_DialogResetButton)):
            action.setIcon(QIcon.fromTheme(theme, style.standardIcon(fallback)))
            toolbar.addAction(action)
        self.provider = plain_label()
        self.status_line = StatusLine()
        self.statusBar().addWidget(self.status_line, 1)
        self.statusBar().addPermanentWidget(self.provider)

        self.studio.model_changed.connect(self._model_changed)
        self.studio.model_failed.connect(self._model_failed)
        self.studio.model_loading.connect(lambda what: self.busy.start(f"Loading {what}…"))
        self.studio.image_added.connect(self._image_added)
        self.studio.image_updated.connect(self._image_updated)
        self.studio.notice.connect(self.show_notice)
        self.studio.queue_changed.connect(self._queue_changed)
        self.studio.scan_progress.connect(lambda found, cap: self.status_line.show_message(f"scanning: {found} images"))
        self.studio.details_ready.connect(self._details_ready)
        self.studio.activation_failed.connect(self.show_notice)
        self.activations.notice.connect(self.show_notice)
        self.studio.why_ready.connect(self.why.show_image)
        self.why.requested.connect(self._refresh_details)
        self.studio.responses_ready.connect(lambda mean, count: self.activations.adds.show_responses(None, mean, count))
        self.structure.notice.connect(self.show_notice)
        self.studio.models_listed.connect(self._models_listed)
        self.picker.chosen.connect(self._offer_chosen)
        self.picker.reveal_requested.connect(self._reveal)
        self.picker.delete_requested.connect(self._delete)
        self.picker.twin_requested.connect(self._make_twin)
        self.picker.calibrate_requested.connect(self._calibrate)
        self.picker.random_requested.connect(lambda offer: self._start_export(offer.variant, "random"))
        self.export_bar.cancel.clicked.connect(self._cancel_export)
        self.export_bar.fallback.clicked.connect(self._fallback_to_random)
        self.list.currentItemChanged.connect(lambda *_: self._refresh_details())
        self.tabs.currentChanged.connect(lambda *_: self._refresh_details())
        self.activations.requested.connect(self._refresh_details)
        self.structure.view.block_clicked.connect(self._block_clicked)
        self.structure.compare_requested.connect(self._compare_chosen)
        self.cancel.clicked.connect(self.studio.cancel)

        # The models folder is watched, so a file exported from a terminal or copied in appears by itself.
        self._refresh_timer = QTimer(self, singleShot=True, interval=400, timeout=self.studio.refresh_models)
        self.watcher = QFileSystemWatcher(self)
        try:
            catalog.models_dir.mkdir(parents=True, exist_ok=True)
            self.watcher.addPath(str(catalog.models_dir))
        except OSError as exc:
            self.show_notice(f"models folder {catalog.models_dir} is not usable ({exc.strerror or exc})")
        self.watcher.directoryChanged.connect(lambda _: self._refresh_timer.start())
        self.studio.refresh_models()
        self._restore()
        self.studio.precision = self._setting("precision", "auto", str)
        if self.studio.precision not in PRECISION_CHOICES:
            self.studio.precision = "auto"
        for name, action in self._precision_actions.items():
            action.setChecked(name == self.studio.precision)
        self.studio.load_model(model or self._setting("model", None, str) or None)

    # Settings -----------------------------------------------------------------------------------------------

    def _setting(self, key: str, default, kind):
        """A stored value of the expected type, or the default when missing or corrupt."""
        try:
            value = self.settings.value(key, default)
        except Exception:  # noqa: BLE001 - a corrupt settings file must not stop the app
            return default
        return value if isinstance(value, kind) else default

    def _restore(self) -> None:
        geometry = self._setting("geometry", None, QByteArray)
        screen = self.screen().availableGeometry()
        if geometry is None or not self.restoreGeometry(geometry):
            # The first window fits the screen (a 1366x768 laptop included), frame and all.
            self.resize(min(1280, screen.width() - 40), min(800, screen.height() - 60))
        elif not screen.contains(self.frameGeometry()):  # saved on a larger screen
            self.resize(min(self.width(), screen.width() - 40), min(self.height(), screen.height() - 60))
            self.move(screen.topLeft())
        splitter = self._setting("splitter", None, QByteArray)
        if splitter is not None:
            self.splitter.restoreState(splitter)
        try:  # "²" passes str.isdigit() and fails int()
            tab = int(self._setting("tab", "0", str))
        except ValueError:
            tab = 0
        self.tabs.setCurrentIndex(tab if 0 <= tab < len(TABS) else 0)

    def save_settings(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.setValue("tab", str(self.tabs.currentIndex()))
        self.settings.setValue("device", self.studio.device)
        self.settings.setValue("precision", self.studio.precision)
        if self.studio.info is not None:
            self.settings.setValue("model", str(self.studio.info.path))
        self.settings.sync()

    def closeEvent(self, event) -> None:
        self.save_settings()
        if self.export_job is not None:
            self.export_job.cancel()
            self.export_job.wait()
        self.studio.shutdown()
        super().closeEvent(event)

    # Menus and keyboard -------------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action(file_menu, "&Open images…", QKeySequence.StandardKey.Open, self.open_files)
        self.folder_action = self._action(file_menu, "Open &folder…", "Ctrl+Shift+O", self.open_folder)
        self._action(file_menu, "Open &model file…", "Ctrl+M", self.open_model)
        self.paste_action = self._action(file_menu, "&Paste image", QKeySequence.StandardKey.Paste, self.paste)
        self.clear_action = self._action(file_menu, "&Clear images", "Ctrl+Shift+Backspace", self._clear)
        self._action(file_menu, "&Export results…", "Ctrl+E", self.export_results)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        view = self.menuBar().addMenu("&View")
        self._action(view, "&Next image", "Ctrl+Down", lambda: self._step(1))
        self._action(view, "&Previous image", "Ctrl+Up", lambda: self._step(-1))
        for index, title in enumerate(TABS):
            self._action(view, f"Show {title.lower()}", f"Ctrl+{index + 1}",
                         lambda checked=False, i=index: self.tabs.setCurrentIndex(i))
        device_menu = view.addMenu("&Device")
        for device in ("auto", "cpu", "cuda"):
            action = self._action(device_menu, device, None, lambda checked=False, d=device: self._set_device(d))
            action.setCheckable(True)
            action.setChecked(device == self.studio.device)
            self._device_actions = getattr(self, "_device_actions", {}) | {device: action}
        precision_menu = view.addMenu("P&recision")
        group = QActionGroup(self)
        self._precision_actions = {}
        for precision in PRECISION_CHOICES:
            text = "auto (int8 on the CPU, fp16 on CUDA, when the model has them)" if precision == "auto" else precision
            action = self._action(precision_menu, text, None,
                                  lambda checked=False, p=precision: self.studio.set_precision(p))
            action.setCheckable(True)
            group.addAction(action)
            self._precision_actions[precision] = action
        models_menu = self.menuBar().addMenu("&Models")
        self._action(models_menu, "&Choose model…", "Ctrl+Shift+M", self.picker.open_popup)
        self._action(models_menu, "&Refresh models folder", QKeySequence.StandardKey.Refresh, self.studio.refresh_models)
        self._action(models_menu, "&Show models folder", None,
                     lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.catalog.models_dir))))

    def _action(self, menu, text, shortcut, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _set_device(self, device: str) -> None:
        for name, action in self._device_actions.items():
            action.setChecked(name == device)
        self.studio.set_device(device)

    def _step(self, delta: int) -> None:
        if self.list.count():
            self.list.setCurrentRow(max(0, min(self.list.count() - 1, self.list.currentRow() + delta)))

    # Images in ----------------------------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        paths = [url_to_path(url) for url in mime.urls()]
        if paths:
            self.studio.add_paths(paths)
        elif mime.hasImage():
            self.studio.add_image(mime.imageData())
        event.acceptProposedAction()

    def open_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open images", "",
                                                "Images (*.png *.jpg *.jpeg *.webp *.bmp *.gif *.tif *.tiff);;"
                                                "All files (*)")
        if files:
            self.studio.add_paths(files)

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if folder:
            self.studio.add_paths([folder])

    def open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an ONNX model", "", "ONNX models (*.onnx)")
        if path:
            self.studio.load_model(path)

    def paste(self) -> None:
        clipboard = QGuiApplication.clipboard()
        mime = clipboard.mimeData()
        if mime is not None and mime.hasUrls():
            self.studio.add_paths([url_to_path(u) for u in mime.urls()])
        else:
            self.studio.add_image(clipboard.image())

    def _clear(self) -> None:
        self.studio.clear()
        self.list.clear_all()
        self.predictions.show_result("", None, None)
        self.input_view.clear("")
        self.activations.clear(NO_IMAGES_HINT)

    def _image_added(self, entry: ImageEntry) -> None:
        self.list.add(entry)

    def _image_updated(self, entry: ImageEntry) -> None:
        if self.list.show_entry(entry):
            self._refresh_details()
        if entry.result:
            self.status_line.show_message(f"{entry.result.inference_ms:.1f} ms per image", 5000)

    def _queue_changed(self, done: int, total: int) -> None:
        busy = total > done
        self.progress.setVisible(busy)
        self.cancel.setVisible(busy)
        if busy:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"{done} / {total} classified")

    # Selection and details ----------------------------------------------------------------------------------

    def current_entry(self) -> ImageEntry | None:
        entry_id = self.list.current_id()
        return self.studio.entries.get(entry_id) if entry_id is not None else None

    def _refresh_details(self) -> None:
        entry = self.current_entry()
        if entry is None:
            return
        info = self.studio.info
        self.predictions.show_result(entry.name, entry.result, entry.error,
                                     info.ood.description if info is not None and info.ood else "")
        if entry.error or entry.result is None:
            return
        pair = self.why.current_pair()
        if self.tabs.currentWidget() is self.why and pair is not None:
            self.studio.request_why(entry.id, (pair.plain, pair.residual))
        # Activations are computed only while their panel is showing.
        showing = self.tabs.currentWidget() is self.activations
        self.studio.request_details(entry.id, showing, self.activations.current_block(),
                                    self.activations.top_n.value(), self.activations.current_class(),
                                    weakest=self.activations.weakest, parts=self.activations.showing_adds)

    def _details_ready(self, details: Details) -> None:
        entry = self.current_entry()
        if entry is None or entry.id != details.entry_id:
            return
        info = self.studio.info
        if info is None:
            return
        self.input_view.show_input(details.preview, details.crop, details.model_input,
                                   describe_input(info.preprocess),
                                   bool(entry.result and entry.result.out_of_distribution))
        if details.parts is not None:
            self.activations.show_parts(details.parts, details.responses)
            self.structure.view.highlight(details.parts.block.removeprefix("act."))
            self.studio.request_mean_responses()
        if details.maps is not None:
            self.activations.show_maps(details.maps, details.model_input)
            self.structure.view.highlight(details.maps.block.removeprefix("act."))
        if details.cam is not None:
            self.activations.show_cam(details.preview, details.cam, info.labels[details.cam_class],
                                      details.cam_probability, details.crop)

    def _block_clicked(self, name: str) -> None:
        self.activations.select_block(name)
        self.tabs.setCurrentWidget(self.activations)

    # Models -------------------------------------------------------------------------------------------------

    def _models_listed(self, offers: list[lineup.Offer]) -> None:
        current = self.studio.current_offer()
        self.picker.set_offers(offers, current.key if current else None)
        if current is not None and self.studio.info is not None:
            self.picker.set_active(current.key, self.studio.info.precision)
        self.structure.set_choices([o.pick("cpu").name for o in offers
                                    if o.exported and o.info is not None and o.info.architecture is not None])
        infos = [f.info for o in offers for f in o.files.values() if f.info is not None and f.info.precision == "fp32"]
        self.why.set_pairs(why_residual.pairs(infos))
        if self._load_when_listed is not None:
            landed = lineup.offer_for_path(offers, self._load_when_listed)
            self._load_when_listed = None
            if landed is not None:
                self.studio.load_model(landed)

    def _offer_chosen(self, offer: lineup.Offer) -> None:
        current = self.studio.current_offer()
        if offer.exported:
            if current is None or offer.key != current.key:
                self.status_line.show_message(f"loading {shown(offer.title)}…")
                self.studio.load_model(offer)
        else:
            self._start_export(offer.variant, offer.weights)

    # Exports started from the app -------------------------------------------------------------------------

    def _start_export(self, variant: str, weights: str, precisions: list[str] | None = None,
                      calibration: str | None = None) -> None:
        """Export ``variant`` in a child process; its files load by themselves when it has finished."""
        if self.export_job is not None:
            self.show_notice(f"an export of {self.export_job.variant} is already running; cancel it first")
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
        self._load_when_listed = paths[0]
        self.studio.refresh_models()

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

    def _cancel_export(self) -> None:
        if self.export_job is not None:
            self.export_bar.stage("Cancelling…", None)
            self.export_job.cancel()
        else:
            self.export_bar.hide()

    def _fallback_to_random(self) -> None:
        variant = self._fallback_variant
        self.export_bar.hide()
        if variant:
            self._start_export(variant, "random")

    # Managing model files ---------------------------------------------------------------------------------

    def _reveal(self, offer: lineup.Offer) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(offer.paths()[0].parent)))

    def _delete(self, offer: lineup.Offer) -> None:
        names = "\n".join(shown(p.name) for p in offer.paths())
        box = QMessageBox(QMessageBox.Icon.Question, "Delete model", f"Delete {shown(offer.title)}? These files are removed:"
                          f"\n\n{names}", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if box.exec() != QMessageBox.StandardButton.Yes:
            return
        try:
            lineup.delete(offer)
        except ModelRejected as exc:
            self.show_notice(str(exc))
        self.studio.refresh_models()

    def _enough_images(self, folder: str, purpose: str) -> bool:
        # Stops at the 64th image: a huge folder must not hold up the GUI thread.
        images = (p for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        count = sum(1 for _ in itertools.islice(images, MIN_CALIBRATION_IMAGES))
        if count < MIN_CALIBRATION_IMAGES:
            self.show_notice(f"{folder} holds {count} images; {purpose} needs {MIN_CALIBRATION_IMAGES} or more")
        return count >= MIN_CALIBRATION_IMAGES

    def _make_twin(self, offer: lineup.Offer) -> None:
        folder = QFileDialog.getExistingDirectory(self, f"Images to calibrate int8 {offer.title} on "
                                                        f"({MIN_CALIBRATION_IMAGES} or more, like those you classify)")
        if not folder or not self._enough_images(folder, "int8 calibration"):
            return
        info = offer.info
        self._start_export(offer.variant, str(info.weights.get("source") or offer.weights), ["int8"], folder)

    def _calibrate(self, offer: lineup.Offer) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, f"{MIN_CALIBRATION_IMAGES} or more typical images for {offer.title}: the warning will flag "
                  f"what is unlike them")
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
            self.show_notice(f"fitting the warning failed: {reason}")
            self.calibrate_job = None

        job.finished.connect(done)
        job.failed.connect(failed)
        job.start()

    def _model_changed(self, info: ModelInfo) -> None:
        offer = self.studio.current_offer()
        if offer is None:  # opened by path, or not listed yet: list it
            self.catalog.add(info.path)
            self.studio.refresh_models()
        else:
            self.picker.set_offers(self.studio.offers, offer.key)
            self.picker.set_active(offer.key, info.precision)
        self.busy.stop(self.studio.loading)
        self.activations.set_model(info)
        self.input_view.clear("")
        self.predictions.set_model(info)
        self._show_structure()
        handle = self.studio.handle
        device = "CUDA" if handle.reason is None else "CPU"
        self.provider.setText(shown(f"{device} · {info.precision}", 40))
        why = f"\nCUDA not in use: {handle.reason}" if handle.reason else ""
        self.provider.setToolTip(tooltip(f"ONNX Runtime provider in use: {handle.provider}; running the "
                                         f"{info.precision} file {info.path.name}{why}"))
        self.status_line.show_message(shown(f"model {info.name}: {info.weights_source}", 300), 8000)
        for entry in self.studio.entries.values():
            self.list.show_entry(entry, waiting=True)
        self._refresh_details()

    def _model_failed(self, reason: str) -> None:
        self.busy.stop(self.studio.loading)
        if self.studio.info is None and not self._fell_back:
            # The model asked for at start (the last one used, say) is gone or broken: the app
            # still opens, on the default model, and says why.
            self._fell_back = True
            self.show_notice(f"model not loaded: {reason}; opened the default model instead")
            self.studio.load_model(None)
            return
        self.show_notice(f"model not loaded: {reason}")

    def _compare_chosen(self, name: str) -> None:
        self._compare = name
        self._show_structure()

    def _show_structure(self) -> None:
        info = self.studio.info
        primary = (model_title(info), info.architecture) if info and info.architecture else None
        other = None
        if self._compare:
            try:
                other_info = self.catalog.resolve(self._compare)
                if other_info.architecture:
                    other = (model_title(other_info), other_info.architecture)
            except Exception as exc:  # noqa: BLE001 - shown, never fatal
                self.show_notice(str(exc))
        self.structure.view.show_models(primary, other)

    def export_results(self, path: str | None = None) -> None:
        """Write every image's result to CSV or JSON (by the suffix); ``path`` None asks for one."""
        results = self.studio.results()
        if not results:
            self.show_notice("no results to export yet: drop some images first")
            return
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(self, "Export results", "results.csv",
                                                       "CSV (*.csv);;JSON (*.json)")
            if not path:
                return
            if Path(path).suffix.lower() not in (".csv", ".json"):
                path += ".json" if "json" in chosen.lower() else ".csv"
        try:
            count = report.write(path, results)
        except report.ReportError as exc:
            self.show_notice(str(exc))
            return
        self.status_line.show_message(f"exported {count} result(s) to {path}", 8000)

    def show_notice(self, text: str) -> None:
        first = shown(text.strip().splitlines()[0] if text.strip() else text, 400)
        self.notice.setText(f"⚠ {first}")
        self.notice.show()
        self._notice_timer.start()
        self.status_line.show_message(first, 8000)


def url_to_path(url: QUrl) -> str:
    """A local path from a file URL, keeping names that are not valid UTF-8; other URLs as text.

    ``QUrl.toLocalFile`` decodes percent-escapes as UTF-8 and so mangles such names; the raw
    bytes go through the filesystem encoding instead.
    """
    if not url.isLocalFile():
        return url.toString()
    encoded = bytes(url.toEncoded()).decode("ascii")
    return os.fsdecode(urllib.parse.unquote_to_bytes(urllib.parse.urlsplit(encoded).path))


def install_excepthook(window: MainWindow) -> None:
    """The backstop: an exception that escapes a slot is shown, not fatal."""
    previous = sys.excepthook

    def hook(kind, value, traceback) -> None:
        previous(kind, value, traceback)
        first = str(value).strip().splitlines()[0] if str(value).strip() else ""
        window.show_notice(f"internal error: {kind.__name__}: {first}")

    sys.excepthook = hook
