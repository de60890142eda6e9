"""The main window: image list, predictions, activations and structure, wired to ``Studio``."""

from __future__ import annotations

import os
import sys
import urllib.parse
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QMainWindow, QProgressBar, QPushButton, QSplitter, QStyle, QTabWidget, QVBoxLayout,
                               QWidget)

from .core.catalog import Catalog, shipped_models_dir
from .core.model_file import ModelInfo
from .core.naming import describe_model
from .qt_images import rgb_to_qimage
from .state import Details, ImageEntry, Studio
from .widgets.activations import ActivationsPanel
from .widgets.predictions import PredictionsPanel
from .widgets.structure import StructurePanel

GROUP_TITLES = {"trained": "Trained", "imagenet": "ImageNet weights",
                "untrained": "Untrained (random weights: predictions are meaningless)",
                "no metadata": "No metadata", "unusable": "Unusable"}
TABS = ("Predictions", "Activations", "Structure")


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
        self._items: dict[int, QListWidgetItem] = {}
        self._compare: str = ""

        self.models = QComboBox()
        self.models.setAccessibleName("Model")
        self.models.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.list = QListWidget()
        self.list.setIconSize(QSize(48, 48))
        self.list.setUniformItemSizes(True)
        self.list.setAccessibleName("Images")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.cancel = QPushButton("Cancel")
        self.cancel.hide()
        self.predictions = PredictionsPanel()
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(240, 240)
        self.activations = ActivationsPanel()
        self.structure = StructurePanel()
        self.notice = QLabel()
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("#notice { background: #fff4e5; color: #7a4100; border: 1px solid #f0c38e;"
                                  " border-radius: 4px; padding: 6px; }")
        self.notice.hide()
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
        prediction_layout.addWidget(self.preview, 1)
        prediction_layout.addWidget(self.predictions, 1)
        self.tabs = QTabWidget()
        for page, title in zip((prediction_page, self.activations, self.structure), TABS):
            self.tabs.addTab(page, title)
        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([300, 900])
        self.setCentralWidget(self.splitter)

        self.setWindowIcon(QIcon(str(shipped_models_dir() / "icons" / "resnet-studio.svg")))
        self._build_menus()
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        style = self.style()
        # The desktop theme's icons where there is one, else the style's own.
        for action, theme, fallback in (
                (self.open_action, "document-open", QStyle.StandardPixmap.SP_DialogOpenButton),
                (self.folder_action, "folder-open", QStyle.StandardPixmap.SP_DirOpenIcon),
                (self.paste_action, "edit-paste", QStyle.StandardPixmap.SP_FileIcon),
                (self.clear_action, "edit-clear", QStyle.StandardPixmap.SP_DialogResetButton)):
            action.setIcon(QIcon.fromTheme(theme, style.standardIcon(fallback)))
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Model "))
        toolbar.addWidget(self.models)
        self.provider = QLabel()
        self.statusBar().addPermanentWidget(self.provider)

        self.studio.model_changed.connect(self._model_changed)
        self.studio.model_failed.connect(self._model_failed)
        self.studio.image_added.connect(self._image_added)
        self.studio.image_updated.connect(self._image_updated)
        self.studio.notice.connect(self.show_notice)
        self.studio.queue_changed.connect(self._queue_changed)
        self.studio.scan_progress.connect(lambda found, cap: self.statusBar().showMessage(f"scanning: {found} images"))
        self.studio.details_ready.connect(self._details_ready)
        self.studio.activation_failed.connect(self.show_notice)
        self.models.activated.connect(self._model_chosen)
        self.list.currentItemChanged.connect(lambda *_: self._refresh_details())
        self.tabs.currentChanged.connect(lambda *_: self._refresh_details())
        self.activations.requested.connect(self._refresh_details)
        self.structure.view.block_clicked.connect(self._block_clicked)
        self.structure.compare_requested.connect(self._compare_chosen)
        self.cancel.clicked.connect(self.studio.cancel)

        self._fill_models()
        self._restore()
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
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        splitter = self._setting("splitter", None, QByteArray)
        if splitter is not None:
            self.splitter.restoreState(splitter)
        tab = self._setting("tab", "0", str)
        self.tabs.setCurrentIndex(int(tab) if tab.isdigit() and int(tab) < len(TABS) else 0)

    def save_settings(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("splitter", self.splitter.saveState())
        self.settings.setValue("tab", str(self.tabs.currentIndex()))
        self.settings.setValue("device", self.studio.device)
        if self.studio.info is not None:
            self.settings.setValue("model", str(self.studio.info.path))
        self.settings.sync()

    def closeEvent(self, event) -> None:
        self.save_settings()
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
        self.list.clear()
        self._items.clear()
        self.predictions.show_result("", None, None)
        self.preview.clear()

    def _image_added(self, entry: ImageEntry) -> None:
        item = QListWidgetItem(entry.name)
        item.setData(Qt.ItemDataRole.UserRole, entry.id)
        item.setToolTip(entry.path)
        self._items[entry.id] = item
        self.list.addItem(item)
        self._image_updated(entry)
        if self.list.currentRow() < 0:
            self.list.setCurrentItem(item)

    def _image_updated(self, entry: ImageEntry) -> None:
        item = self._items.get(entry.id)
        if item is None:
            return
        if entry.error:
            item.setText(f"{entry.name}\n⚠ {entry.error.split(': ', 1)[-1]}")
            item.setForeground(self.palette().placeholderText())
        elif entry.result:
            best = entry.result.predictions[0]
            item.setText(f"{entry.name}\n{best.label} · {best.probability:.0%}")
        else:
            item.setText(f"{entry.name}\n…")
        if entry.thumb is not None and item.icon().isNull():
            item.setIcon(QIcon(QPixmap.fromImage(entry.thumb)))
        if self.list.currentItem() is item:
            self._refresh_details()
        if entry.result:
            self.statusBar().showMessage(f"{entry.result.inference_ms:.1f} ms per image", 5000)

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
        item = self.list.currentItem()
        return self.studio.entries.get(item.data(Qt.ItemDataRole.UserRole)) if item else None

    def _refresh_details(self) -> None:
        entry = self.current_entry()
        if entry is None:
            return
        self.predictions.show_result(entry.name, entry.result, entry.error)
        if entry.error or entry.result is None:
            return
        # Activations are computed only while their panel is showing.
        showing = self.tabs.currentWidget() is self.activations
        self.studio.request_details(entry.id, showing, self.activations.current_block(),
                                    self.activations.top_n.value(), self.activations.current_class())

    def _details_ready(self, details: Details) -> None:
        entry = self.current_entry()
        if entry is None or entry.id != details.entry_id:
            return
        pixmap = QPixmap.fromImage(rgb_to_qimage(details.preview))
        self.preview.setPixmap(pixmap.scaled(self.preview.size() * 0.95, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation))
        if details.maps is not None:
            self.activations.show_maps(details.maps)
            self.structure.view.highlight(details.maps.block.removeprefix("act."))
        if details.cam is not None and self.studio.info is not None:
            label = self.studio.info.labels[details.cam_class]
            self.activations.show_cam(details.preview, details.cam, label)

    def _block_clicked(self, name: str) -> None:
        self.activations.select_block(name)
        self.tabs.setCurrentWidget(self.activations)

    # Models -------------------------------------------------------------------------------------------------

    def _fill_models(self) -> None:
        model = QStandardItemModel(self.models)
        groups: dict[str, list] = {}
        for entry in self.catalog.entries():
            groups.setdefault(entry.group, []).append(entry)
        for group in GROUP_TITLES:
            if group not in groups:
                continue
            header = QStandardItem(GROUP_TITLES[group])
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            font = header.font()
            font.setBold(True)
            header.setFont(font)
            model.appendRow(header)
            for entry in groups[group]:
                item = QStandardItem("    " + model_line(entry.info) if entry.info else f"    {entry.name}")
                item.setData(str(entry.path), Qt.ItemDataRole.UserRole)
                item.setToolTip(entry.error or str(entry.path))
                if entry.info is None:
                    item.setFlags(Qt.ItemFlag.NoItemFlags)
                model.appendRow(item)
        self.models.setModel(model)
        self.structure.set_choices([e.name for e in self.catalog.entries()
                                    if e.info is not None and e.info.architecture is not None])

    def _model_chosen(self, index: int) -> None:
        path = self.models.itemData(index, Qt.ItemDataRole.UserRole)
        if path and (self.studio.info is None or str(self.studio.info.path) != path):
            self.statusBar().showMessage(f"loading {Path(path).name}…")
            self.studio.load_model(path)

    def _select_active_model(self) -> None:
        info = self.studio.info
        if info is None:
            return
        index = self.models.findData(str(info.path), Qt.ItemDataRole.UserRole)
        if index < 0:  # a file opened by path: add it to the list
            self.models.model().appendRow(item := QStandardItem("    " + model_line(info)))
            item.setData(str(info.path), Qt.ItemDataRole.UserRole)
            index = self.models.count() - 1
        self.models.setCurrentIndex(index)

    def _model_changed(self, info: ModelInfo) -> None:
        self._select_active_model()
        self.activations.set_model(info)
        self._show_structure()
        handle = self.studio.handle
        self.provider.setText("CUDA" if handle.reason is None else f"CPU · {handle.reason}")
        self.provider.setToolTip(f"ONNX Runtime provider in use: {handle.provider}")
        self.statusBar().showMessage(f"model {info.name}: {info.weights_source}", 8000)
        for item in self._items.values():
            entry = self.studio.entries.get(item.data(Qt.ItemDataRole.UserRole))
            if entry and not entry.error:
                item.setText(f"{entry.name}\n…")
        self._refresh_details()

    def _model_failed(self, reason: str) -> None:
        self._select_active_model()
        self.show_notice(f"model not loaded: {reason}")

    def _compare_chosen(self, name: str) -> None:
        self._compare = name
        self._show_structure()

    def _show_structure(self) -> None:
        info = self.studio.info
        primary = (describe_model(info), info.architecture) if info and info.architecture else None
        other = None
        if self._compare:
            try:
                other_info = self.catalog.resolve(self._compare)
                if other_info.architecture:
                    other = (describe_model(other_info), other_info.architecture)
            except Exception as exc:  # noqa: BLE001 - shown, never fatal
                self.show_notice(str(exc))
        self.structure.view.show_models(primary, other)

    def show_notice(self, text: str) -> None:
        first = text.strip().splitlines()[0] if text.strip() else text
        self.notice.setText(f"⚠ {first}")
        self.notice.show()
        self._notice_timer.start()
        self.statusBar().showMessage(first, 8000)


def url_to_path(url: QUrl) -> str:
    """A local path from a file URL, keeping names that are not valid UTF-8; other URLs as text.

    ``QUrl.toLocalFile`` decodes percent-escapes as UTF-8 and so mangles such names; the raw
    bytes go through the filesystem encoding instead.
    """
    if not url.isLocalFile():
        return url.toString()
    encoded = bytes(url.toEncoded()).decode("ascii")
    return os.fsdecode(urllib.parse.unquote_to_bytes(urllib.parse.urlsplit(encoded).path))


def model_line(info: ModelInfo) -> str:
    return describe_model(info, long=True)


def install_excepthook(window: MainWindow) -> None:
    """The backstop: an exception that escapes a slot is shown, not fatal."""
    previous = sys.excepthook

    def hook(kind, value, traceback) -> None:
        previous(kind, value, traceback)
        first = str(value).strip().splitlines()[0] if str(value).strip() else ""
        window.show_notice(f"internal error: {kind.__name__}: {first}")

    sys.excepthook = hook
