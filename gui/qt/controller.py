"""The app's controller: owns the state objects, subscribes the passive views to them in one table,
and answers the menu commands.

The views (``MainWindow``'s widgets) only show what they are given and announce what the user did; the
state (``Studio`` and ``Analyses``) only does work and announces results. Every link between the two
is a row of ``_connections``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication

from resnet_studio.core import report
from resnet_studio.core.catalog import shipped_models_dir
from resnet_studio.core.lesion import removable_blocks
from resnet_studio.core.local_file import Rejected
from resnet_studio.core.model_file import ModelInfo
from resnet_studio.core import shipped_architectures
from resnet_studio.core.preprocess import describe_input
from resnet_studio.core.text import natural_order, shown
from resnet_studio.gui.viewmodel import lineup, why_residual
from resnet_studio.gui.viewmodel.images import ImageEntry, lesion_change
from resnet_studio.gui.viewmodel.intake import IMAGE_TYPES
from resnet_studio.gui.viewmodel.naming import model_title

from .analyses import Analyses
from .file_dialogs import IMAGE_FILTER, file_stem
from .folder_watch import FolderWatch
from .menus import PRECISION_CHOICES
from .messages import Details
from .model_actions import ModelActions
from .training import TrainActions
from .plain_text import tooltip
from .widgets.activations import NO_IMAGES_HINT
from .window_settings import stored
from .workers import url_to_path

REGISTRY_SUFFIX = "(registry)"  # a compare choice drawn from the shipped description, not from a file


class Controller(QObject):
    """Owned by the window through Qt's parent link. The reference back to the window makes a cycle, which
    Python collects on the GUI thread only (``workers.collect_garbage_on_the_gui_thread``): a widget freed on
    a worker thread would deadlock in Qt's destructor."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window, self.studio, self.catalog = window, window.studio, window.catalog
        self.analyses = Analyses(self.studio)
        self.actions = ModelActions(window, self.studio, self.catalog, window.export_bar, window.busy,
                                    window.status_line)
        self.training = TrainActions(window, self.studio, self.catalog, window.train, window.dialogs)
        window.analyses, window.actions = self.analyses, self.actions
        self._reveal: str | None = None  # an image asked for from the evaluation: selected once it is listed
        self._compare, self._fell_back = "", False
        self._landed: Path | None = None  # an export that just finished: loaded once it is listed
        self.models_watch = FolderWatch(self.catalog.models_dir, self)
        for signal, slot in self._connections():
            signal.connect(slot)

    def _connections(self) -> list[tuple]:
        w, studio, analyses, actions = self.window, self.studio, self.analyses, self.actions
        return [
            (studio.model_changed, self._model_changed),
            (studio.model_failed, self._model_failed),
            (studio.model_loading, lambda what: w.busy.start(f"Loading {what}…")),
            (studio.models_listed, self._models_listed),
            (studio.images_added, self._images_added),
            (studio.image_updated, self._image_updated),
            (studio.notice, w.show_notice),
            (studio.queue_changed, self._queue_changed),
            (studio.scan_progress, lambda found, cap: w.status_line.show_message(f"adding images: {found:,}")),
            (analyses.details_ready, self._details_ready),
            (analyses.failed, w.show_notice),
            (analyses.why_ready, w.why.show_image),
            (analyses.responses_ready, w.activations.show_mean_responses),
            (actions.notice, w.show_notice),
            (actions.export_landed, self._export_landed),
            (self.training.landed, self._export_landed),
            (self.training.notice, w.show_notice),
            (self.training.image_opened, self.reveal_image),
            (studio.models_listed, self.training.models_listed),
            (w.activations.notice, w.show_notice),
            (w.activations.requested, self.refresh_details),
            (w.activations.removal_requested, self.studio.set_removed),
            (studio.removed_changed, self._removed_changed),
            (w.why.requested, self.refresh_details),
            (w.structure.notice, w.show_notice),
            (w.structure.block_requested, self._block_clicked),
            (w.structure.compare_requested, self._compare_chosen),
            (w.picker.chosen, self._offer_chosen),
            (w.picker.reveal_requested, actions.reveal),
            (w.picker.delete_requested, actions.delete),
            (w.picker.twin_requested, actions.make_twin),
            (w.picker.calibrate_requested, actions.choose_calibration),
            (w.picker.random_requested, lambda offer: self._export_or_load(offer.variant, "random")),
            (w.list.currentItemChanged, lambda *_: self.refresh_details()),
            (w.tabs.currentChanged, lambda *_: self.refresh_details()),
            (w.cancel.clicked, studio.cancel),
            (self.models_watch.changed, studio.refresh_models),
        ]

    def start(self, model: str | None) -> None:
        """Look at the models folders and open ``model`` (None: the default one)."""
        w = self.window
        try:
            self.catalog.models_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            w.show_notice(f"models folder {self.catalog.models_dir} is not usable ({exc.strerror or exc})")
        self.models_watch._arm()
        self.studio.refresh_models()
        precision = stored(w.settings, "precision", "auto", str)
        self.studio.precision = precision if precision in PRECISION_CHOICES else "auto"
        for name, action in w.menus.precision.items():
            action.setChecked(name == self.studio.precision)
        self.studio.load_model(model)

    def stop(self) -> None:
        self.actions.stop()
        self.training.stop()
        self.studio.shutdown()

    # Commands ---------------------------------------------------------------------------------------------

    def open_files(self) -> None:
        files = self.window.dialogs.open_paths("Open images", IMAGE_FILTER)
        if files:
            self.studio.add_paths(files)

    def open_folder(self) -> None:
        folder = self.window.dialogs.folder_path("Open a folder of images")
        if folder:
            self.studio.add_paths([folder])

    def open_samples(self) -> None:
        """The images shipped with the app, as on the first start: back after a Clear."""
        self.studio.add_paths([str(shipped_models_dir() / "samples")])

    def open_model(self) -> None:
        path = self.window.dialogs.open_path("Open an ONNX model", "ONNX models (*.onnx)")
        if path:
            self.studio.load_model(path)

    @staticmethod
    def takes(mime) -> bool:
        """Whether a drag carries what a drop would take in: file URLs or an image."""
        return mime.hasUrls() or mime.hasImage() or any(mime.hasFormat(kind) for kind in IMAGE_TYPES)

    def take_mime(self, mime) -> None:
        """What a drop or the clipboard carries: file URLs, or an image as data (never decoded here)."""
        if mime is None:
            self.window.show_notice("the clipboard holds no image")
        elif mime.hasFormat("text/uri-list"):
            self.studio.add_uris(bytes(mime.data("text/uri-list")))
        elif mime.hasUrls():
            paths = []
            for url in mime.urls():
                try:
                    paths.append(url_to_path(url))
                except Rejected as exc:
                    self.window.show_notice(str(exc))
            self.studio.add_paths(paths)
        elif kind := next((k for k in IMAGE_TYPES if mime.hasFormat(k)), None):
            self.studio.add_image_bytes(bytes(mime.data(kind)), IMAGE_TYPES[kind])
        elif mime.hasImage():
            self.studio.add_image(mime.imageData())
        else:
            self.window.show_notice("the clipboard holds no image")

    def paste(self) -> None:
        self.take_mime(QGuiApplication.clipboard().mimeData())

    def clear_images(self) -> None:
        w = self.window
        self.studio.clear()
        w.list.clear_all()
        w.predictions.show_result("", None, None)
        w.input_view.clear("")
        w.activations.clear(NO_IMAGES_HINT)

    def step(self, delta: int) -> None:
        images = self.window.list
        if images.count():
            images.setCurrentRow(max(0, min(images.count() - 1, images.currentRow() + delta)))

    def export_results(self) -> None:
        """Write every image's result to CSV or JSON, by the suffix the user chooses."""
        results = self.studio.results()
        if not results:
            self.window.show_notice("no results to export yet: drop some images first")
            return
        info = self.studio.info
        name = file_stem("results", info.name if info else "images", f"{len(results)}-images") + ".csv"
        path, chosen = self.window.dialogs.save_path("Export results", name, "CSV (*.csv);;JSON (*.json)")
        if not path:
            return
        if Path(path).suffix.lower() not in (".csv", ".json"):
            path += ".json" if "json" in chosen.lower() else ".csv"
        try:
            count = report.write(path, results)
        except report.ReportError as exc:
            self.window.show_notice(str(exc))
            return
        self.window.status_line.show_message(shown(f"exported {count} result(s) to {path}", 300), 8000)

    # Images --------------------------------------------------------------------------------------------------

    def _images_added(self, entries: list[ImageEntry]) -> None:
        self.window.list.add_many(entries)
        shown_entry = next((e for e in entries if e.path == self._reveal), None)
        if shown_entry is not None:
            self._reveal = None
            self.window.list.setCurrentItem(self.window.list.items_by_id[shown_entry.id])

    def reveal_image(self, path: str) -> None:
        """Select ``path`` in the image list (adding it first if need be) and show its CAM."""
        w = self.window
        w.tabs.setCurrentWidget(w.activations)
        listed = next((e for e in self.studio.entries.values() if e.path == path), None)
        if listed is None:
            self._reveal = path
            self.studio.add_paths([path])
        else:
            w.list.setCurrentItem(w.list.items_by_id[listed.id])

    def _removed_changed(self, removed: frozenset[str]) -> None:
        self.window.activations.show_removed(removed)
        self.window.list.show_waiting(self.studio.entries.values())
        self.refresh_details()

    def _image_updated(self, entry: ImageEntry) -> None:
        if self.window.list.show_entry(entry, self._untrained()):
            self.refresh_details()
        if entry.result:
            self.window.status_line.show_message(f"{entry.result.inference_ms:.1f} ms per image", 5000)

    def _untrained(self) -> bool:
        info = self.studio.info
        return info is not None and info.weights_source.startswith("untrained")

    def _queue_changed(self, done: int, total: int) -> None:
        w, busy = self.window, total > done
        w.progress.setVisible(busy)
        w.cancel.setVisible(busy)
        if busy:
            w.progress.setRange(0, total)
            w.progress.setValue(done)
            w.progress.setFormat(f"{done} / {total} classified")

    def current_entry(self) -> ImageEntry | None:
        entry_id = self.window.list.current_id()
        return self.studio.entries.get(entry_id) if entry_id is not None else None

    def refresh_details(self) -> None:
        w, entry, info = self.window, self.current_entry(), self.studio.info
        if entry is None:
            return
        w.predictions.show_result(entry.name, entry.result, entry.error,
                                  info.ood.description if info is not None and info.ood else "")
        w.predictions.show_lesion(self.studio.removed,
                                  lesion_change(entry.result, entry.intact) if entry.result else "")
        if entry.error or entry.result is None:
            return
        pair = w.why.current_pair()
        if w.tabs.currentWidget() is w.why and pair is not None:
            self.analyses.request_why(entry.id, (pair.plain, pair.residual))
        # Activations are computed only while their panel is showing.
        activations = w.activations
        self.analyses.request_details(entry.id, w.tabs.currentWidget() is activations, activations.current_block(),
                                      activations.top_n.value(), activations.current_class(),
                                      weakest=activations.weakest, parts=activations.showing_adds,
                                      shared_cam=activations.shared_cam,
                                      score_cam_block=activations.score_cam_block)

    def _details_ready(self, details: Details) -> None:
        w, entry, info = self.window, self.current_entry(), self.studio.info
        if entry is None or entry.id != details.entry_id or info is None:
            return
        w.input_view.show_input(details.preview, details.crop, details.model_input, describe_input(info.preprocess),
                                bool(entry.result and entry.result.out_of_distribution))
        if details.parts is not None:
            w.activations.show_parts(details.parts, details.responses)
            w.structure.highlight(details.parts.block)
            self.analyses.request_mean_responses()
        if details.maps is not None:
            w.activations.show_maps(details.maps, details.model_input)
            w.structure.highlight(details.maps.block)
        if details.cam is not None:
            w.activations.show_cam(details.preview, details.cam, info.labels[details.cam.class_index], details.crop,
                                   entry.result.predictions, details.cam_method, details.cam_note)

    def _block_clicked(self, name: str) -> None:
        self.window.activations.select_block(name)
        self.window.tabs.setCurrentWidget(self.window.activations)

    # Models --------------------------------------------------------------------------------------------------

    def _models_listed(self, offers: list[lineup.Offer]) -> None:
        w, current = self.window, self.studio.current_offer()
        w.picker.set_offers(offers, current.key if current else None)
        if current is not None and self.studio.info is not None:
            w.picker.set_active(current.key, self.studio.info.precision)
        exported = [o.pick("cpu").name for o in offers
                    if o.exported and o.info is not None and o.info.architecture is not None]
        mine = current.pick("cpu").name if current is not None else None
        exported = [name for name in exported if name != mine]
        registry = sorted(shipped_architectures.names(), key=natural_order)
        w.structure.set_choices(sorted(exported, key=natural_order) + [f"{name} {REGISTRY_SUFFIX}" for name in registry])
        infos = [f.info for o in offers for f in o.files.values() if f.info is not None and f.info.precision == "fp32"]
        w.why.set_pairs(why_residual.pairs(infos))
        if self._landed is not None:
            landed, self._landed = lineup.offer_for_path(offers, self._landed), None
            if landed is not None:
                self.studio.load_model(landed)

    def _export_landed(self, path: Path) -> None:
        self._landed = path
        self.studio.refresh_models()

    def _offer_chosen(self, offer: lineup.Offer) -> None:
        current = self.studio.current_offer()
        if offer.exported:
            if current is None or offer.key != current.key:
                self.studio.load_model(offer)
        else:
            self._export_or_load(offer.variant, offer.weights)

    def _export_or_load(self, variant: str, weights: str) -> None:
        """Load the export of ``variant`` with ``weights`` where one is on disk already; else make it."""
        done = next((o for o in self.studio.offers if o.exported and not o.error and o.variant == variant
                     and o.weights == weights), None)
        if done is not None:
            self.window.status_line.show_message(f"{shown(done.title)} is exported already: loading it")
            self.studio.load_model(done)
        else:
            self.actions.start_export(variant, weights)

    def _model_changed(self, info: ModelInfo) -> None:
        w, offer = self.window, self.studio.current_offer()
        if offer is None:  # opened by path, or not listed yet: list it
            self.catalog.add(info.path)
            self.studio.refresh_models()
        else:
            w.picker.set_offers(self.studio.offers, offer.key)
            w.picker.set_active(offer.key, info.precision)
        w.busy.stop(self.studio.loading)
        w.menus.show_preset(info)
        w.activations.set_model(info)
        w.activations.set_removable({r.block: r.reason for r in removable_blocks(info)})
        w.input_view.clear("")
        w.predictions.set_model(info)
        self._show_structure()
        handle = self.studio.handle
        w.provider.setText(shown(f"{handle.label} · {info.precision}", 60))
        why = f"\nCUDA not in use: {handle.reason}" if handle.reason else ""
        runtime = f"\n{handle.runtime_note}" if handle.runtime_note else ""
        w.provider.setToolTip(tooltip(f"running the {info.precision} file {info.path.name} on {handle.label}"
                                      f"{runtime}{why}"))
        w.status_line.show_message(shown(f"model {model_title(info, long=True)}", 300), 8000)
        w.list.show_waiting(self.studio.entries.values())
        self.refresh_details()

    def _model_failed(self, reason: str) -> None:
        w = self.window
        w.busy.stop(self.studio.loading)
        if self.studio.info is None and not self._fell_back:
            # The model asked for at start (the last one used, say) is gone or broken: the app
            # still opens, on the default model, and says why.
            self._fell_back = True
            w.show_notice(f"model not loaded: {reason}; opened the default model instead")
            self.studio.load_model(None)
            return
        w.show_notice(f"model not loaded: {reason}")

    def _compare_chosen(self, name: str) -> None:
        self._compare = name
        self._show_structure()

    def _show_structure(self) -> None:
        """The current model's structure, beside the one chosen to compare (from the listed offers: the
        catalog read them on a worker, so nothing is parsed on the GUI thread)."""
        info = self.studio.info
        primary = (model_title(info), info.architecture) if info and info.architecture else None
        other = None
        if self._compare.endswith(REGISTRY_SUFFIX):  # a variant not exported: its shipped description
            variant = self._compare.removesuffix(REGISTRY_SUFFIX).strip()
            found = shipped_architectures.shipped_architecture(variant)
            other = (f"{variant} (registry, {found.input_shape[1]} px)", found) if found else None
        elif self._compare:
            chosen = next((o.pick("cpu").info for o in self.studio.offers
                           if o.exported and o.pick("cpu").name == self._compare), None)
            if chosen is not None and chosen.architecture:
                other = (model_title(chosen), chosen.architecture)
        self.window.structure.show_models(primary, other)
