"""The main window: the widgets and their layout. What they do is ``controller.Controller``'s."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QHBoxLayout, QMainWindow, QProgressBar, QPushButton, QSplitter, QStyle, QTabWidget,
                               QVBoxLayout, QWidget)

from resnet_studio.core.catalog import Catalog, shipped_models_dir
from resnet_studio.core.text import shown

from .controller import Controller
from .menus import TABS, Menus
from .plain_text import plain_label, warning_label
from .state import Studio
from .widgets.activations import ActivationsPanel
from .widgets.bars import BusyBar, ExportBar
from .widgets.image_list import ImageList
from .widgets.input_view import InputView
from .widgets.model_picker import ModelPicker
from .widgets.predictions import PredictionsPanel
from .widgets.status_line import StatusLine
from .widgets.structure_panel import StructurePanel
from .widgets.train_panel import TrainPanel
from .widgets.why_residual import WhyResidualPanel
from .file_dialogs import FileDialogs
from .window_settings import reopens_images, restore, save, stored
from .workers import collect_garbage_on_the_gui_thread


class MainWindow(QMainWindow):
    def __init__(self, catalog: Catalog, settings: QSettings, device: str | None = None,
                 model: str | None = None) -> None:
        super().__init__()
        collect_garbage_on_the_gui_thread()
        self.settings, self.catalog = settings, catalog
        self.dialogs = FileDialogs(self, settings)
        device = device or stored(settings, "device", "auto", str)
        self.studio = Studio(catalog, device if device in ("auto", "cpu", "cuda") else "auto", self)
        self.setWindowTitle("ResNet Studio")
        self.setAcceptDrops(True)
        self._build_widgets()
        self.setCentralWidget(self._layout())
        self.setWindowIcon(QIcon(str(shipped_models_dir() / "icons" / "resnet-studio.svg")))
        self.controller = Controller(self)
        self.menus = Menus(self, self.controller)
        self.menus.reopen.setChecked(reopens_images(settings))
        self.menus.reopen.toggled.connect(lambda on: settings.setValue("reopen_images", on))
        self._toolbar()
        restore(self, settings)
        self.controller.start(model or stored(settings, "model", None, str) or None)

    def _build_widgets(self) -> None:
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
        self.activations = ActivationsPanel(self.dialogs)
        self.structure = StructurePanel(self.dialogs)
        self.why = WhyResidualPanel()
        self.train = TrainPanel()
        self.notice = warning_label("notice")
        self._notice_timer = QTimer(self, singleShot=True, interval=8000, timeout=self.notice.hide)
        self.provider = plain_label()
        self.status_line = StatusLine()
        self.statusBar().addWidget(self.status_line, 1)
        # In the status bar, the busy bar moves nothing when it comes and goes.
        self.statusBar().addPermanentWidget(self.busy)
        self.statusBar().addPermanentWidget(self.provider)

    def _layout(self) -> QWidget:
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.notice)
        left_layout.addWidget(self.list.header)
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
        for page, title in zip((prediction_page, self.activations, self.structure, self.why, self.train), TABS):
            self.tabs.addTab(page, title)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.tabs, 1)
        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)  # the image list never shrinks to a strip without text
        self.splitter.setSizes([300, 900])
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.addWidget(self.export_bar)
        central_layout.addWidget(self.splitter, 1)
        return central

    def _toolbar(self) -> None:
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

    def closeEvent(self, event) -> None:
        if not self.controller.training.may_close(self):
            event.ignore()
            return
        save(self, self.settings)
        self.controller.stop()
        super().closeEvent(event)

    # Images in: the window system delivers them here ------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if self.controller.takes(event.mimeData()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if self.controller.takes(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        self.controller.take_mime(event.mimeData())
        event.acceptProposedAction()

    def show_notice(self, text: str) -> None:
        first = shown(text.strip().splitlines()[0] if text.strip() else text, 400)
        self.notice.setText(f"⚠ {first}")
        self.notice.show()
        self._notice_timer.start()
        self.status_line.show_message(first, 8000)
