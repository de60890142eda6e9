"""The main window: image list, predictions, activations and structure, wired to ``Studio``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QSettings, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QMainWindow, QProgressBar, QPushButton,
                               QSplitter, QStyle, QTabWidget, QVBoxLayout, QWidget)

from resnet_studio.gui.viewmodel import lineup
from resnet_studio.core.catalog import Catalog, shipped_models_dir
from resnet_studio.core.model_file import ModelInfo
from resnet_studio.core import report
from resnet_studio.gui.viewmodel.naming import model_title
from resnet_studio.gui.viewmodel import why_residual
from resnet_studio.core.preprocess import describe_input
from resnet_studio.core.text import shown
from .analyses import Analyses
from .menus import PRECISION_CHOICES, TABS, Menus
from .window_settings import restore, save, stored
from .workers import collect_garbage_on_the_gui_thread, url_to_path
from .model_actions import ModelActions
from .plain_text import plain_label, tooltip, warning_label
from .messages import Details, ImageEntry
from .state import Studio
from .widgets.activations import NO_IMAGES_HINT, ActivationsPanel
from .widgets.bars import BusyBar, ExportBar
from .widgets.image_list import ImageList
from .widgets.input_view import InputView
from .widgets.model_picker import ModelPicker
from .widgets.predictions import PredictionsPanel
from .widgets.status_line import StatusLine
from .widgets.structure_panel import StructurePanel
from .widgets.why_residual import WhyResidualPanel



class MainWindow(QMainWindow):
    def __init__(self, catalog: Catalog, settings: QSettings, device: str | None = None,
                 model: str | None = None) -> None:
        super().__init__()
        collect_garbage_on_the_gui_thread()
        self.settings = settings
        self.catalog = catalog
        device = device or stored(settings, "device", "auto", str)
        self.studio = Studio(catalog, device if device in ("auto", "cpu", "cuda") else "auto", self)
        self.setWindowTitle("ResNet Studio")
        self.setAcceptDrops(True)
        self._compare: str = ""
        self._fell_back = False

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
        self.menus = Menus(self)
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
                (self.menus.open, "document-open", QStyle.StandardPixmap.SP_DialogOpenButton),
                (self.menus.folder, "folder-open", QStyle.StandardPixmap.SP_DirOpenIcon),
                (self.menus.paste, "edit-paste", QStyle.StandardPixmap.SP_FileIcon),
                (self.menus.clear, "edit-clear", QStyle.StandardPixmap.SP_DialogResetButton)):
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
        self.analyses = Analyses(self.studio)
        self.analyses.details_ready.connect(self._details_ready)
        self.analyses.failed.connect(self.show_notice)
        self.activations.notice.connect(self.show_notice)
        self.analyses.why_ready.connect(self.why.show_image)
        self.why.requested.connect(self._refresh_details)
        self.analyses.responses_ready.connect(lambda mean, count: self.activations.adds.show_responses(None, mean, count))
        self.structure.notice.connect(self.show_notice)
        self.studio.models_listed.connect(self._models_listed)
        self.picker.chosen.connect(self._offer_chosen)
        self.actions = ModelActions(self, self.studio, catalog, self.export_bar, self.busy, self.status_line)
        self.actions.notice.connect(self.show_notice)
        self.picker.reveal_requested.connect(self.actions.reveal)
        self.picker.delete_requested.connect(self.actions.delete)
        self.picker.twin_requested.connect(self.actions.make_twin)
        self.picker.calibrate_requested.connect(self.actions.choose_calibration)
        self.picker.random_requested.connect(lambda offer: self.actions.start_export(offer.variant, "random"))
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
        restore(self, settings)
        self.studio.precision = stored(settings, "precision", "auto", str)
        if self.studio.precision not in PRECISION_CHOICES:
            self.studio.precision = "auto"
        for name, action in self.menus.precision.items():
            action.setChecked(name == self.studio.precision)
        self.studio.load_model(model or stored(settings, "model", None, str) or None)

    def closeEvent(self, event) -> None:
        save(self, self.settings)
        self.actions.stop()
        self.studio.shutdown()
        super().closeEvent(event)

    # Menus and keyboard -------------------------------------------------------------------------------------

    def step(self, delta: int) -> None:
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

    def clear_images(self) -> None:
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
            self.analyses.request_why(entry.id, (pair.plain, pair.residual))
        # Activations are computed only while their panel is showing.
        showing = self.tabs.currentWidget() is self.activations
        self.analyses.request_details(entry.id, showing, self.activations.current_block(),
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
            self.analyses.request_mean_responses()
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
        if self.actions.load_when_listed is not None:
            landed = lineup.offer_for_path(offers, self.actions.load_when_listed)
            self.actions.load_when_listed = None
            if landed is not None:
                self.studio.load_model(landed)

    def _offer_chosen(self, offer: lineup.Offer) -> None:
        current = self.studio.current_offer()
        if offer.exported:
            if current is None or offer.key != current.key:
                self.status_line.show_message(f"loading {shown(offer.title)}…")
                self.studio.load_model(offer)
        else:
            self.actions.start_export(offer.variant, offer.weights)

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
