"""The Train tab: classes from a dropped folder or built by hand, the base model and recipe, Train / Cancel /
Resume, and beside them the live curves and the evaluation. It shows what it is given and announces what
the user did; ``training.TrainActions`` does the work."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QInputDialog,
                               QListWidget, QListWidgetItem, QPushButton, QRadioButton, QScrollArea, QSpinBox,
                               QSplitter, QTabWidget, QVBoxLayout, QWidget)

from resnet_studio.core.local_file import Rejected
from resnet_studio.core.text import shown
from resnet_studio.gui.viewmodel.train_plan import Base, ClassSet, Recipe
from resnet_studio.gui.viewmodel.train_progress import Progress

from ..plain_text import plain_label, tooltip, warning_label
from ..workers import url_to_path
from .evaluation_view import EvaluationView
from .train_charts import TrainCharts

NAME_ROLE = Qt.ItemDataRole.UserRole
# Keyed by the train command's --augment choices (a test holds the two lists together).
AUGMENTATION_TITLES = {"crop-flip": "random crop and flip", "flip": "flip only", "none": "none"}


class ClassList(QListWidget):
    """Drop images onto a class to add them; drop a folder of class folders anywhere to take it whole."""

    folder_dropped = Signal(str)
    images_dropped = Signal(str, list)  # class name, paths
    notice = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptDrops(True)
        self.setDragDropMode(QListWidget.DragDropMode.DropOnly)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = []
        for url in event.mimeData().urls():
            try:
                paths.append(url_to_path(url))
            except Rejected as exc:
                self.notice.emit(str(exc))
        event.acceptProposedAction()
        item = self.itemAt(event.position().toPoint())
        if item is not None and paths:
            self.images_dropped.emit(item.data(NAME_ROLE), paths)
        elif len(paths) == 1:
            self.folder_dropped.emit(paths[0])
        elif paths:
            self.notice.emit("drop images onto a class, or one folder of class folders onto the list")


class TrainPanel(QWidget):
    folder_chosen = Signal(str)
    open_folder_requested = Signal()
    add_class_requested = Signal(str)
    add_images_requested = Signal(str)  # the class to add images to, chosen in a file dialog
    remove_class_requested = Signal(str)
    train_requested = Signal()
    cancel_requested = Signal()
    resume_requested = Signal()
    evaluate_requested = Signal()
    base_changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._bases: list[Base] = []
        self.classes = ClassList()
        self.class_warnings = warning_label("trainWarnings")
        self.open_folder = QPushButton("Open folder of classes…")
        self.add_class = QPushButton("+ class")
        self.remove_class = QPushButton("Remove class")
        self.add_images = QPushButton("Add images…")
        self.add_images.setToolTip(tooltip("Add image files to the selected class (or drop them onto it)"))
        self.base = QComboBox()
        # Titles run long ("resnext29-fashion-mnist (trained on Fashion-MNIST, greyscale, 28 px)"): the list
        # opens wide, but the closed box does not set the panel's width.
        self.base.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.base.setMinimumContentsLength(18)
        self.base.view().setMinimumWidth(460)
        self.base_note = plain_label()
        self.base_note.setWordWrap(True)
        self.frozen = QRadioButton("the new head only (backbone frozen)")
        self.full = QRadioButton("every layer")
        group = QButtonGroup(self)
        group.addButton(self.frozen)
        self.frozen.toggled.connect(lambda *_: self.base_changed.emit())  # the note warns of a frozen random base
        group.addButton(self.full)
        self.epochs = QSpinBox(minimum=1, maximum=1000)
        self.image_size = QSpinBox(minimum=16, maximum=512, singleStep=16, suffix=" px")
        self.augment = QComboBox()
        for key, title in AUGMENTATION_TITLES.items():
            self.augment.addItem(title, key)
        self.train = QPushButton("Train")
        self.cancel = QPushButton("Cancel")
        self.resume = QPushButton("Resume")
        self.status = plain_label("Drop a folder of class folders onto the list, or add classes and drop images "
                                  "onto them.")
        self.status.setWordWrap(True)
        self.chosen = plain_label()
        self.chosen.setWordWrap(True)
        self.validation = plain_label()
        self.validation.setWordWrap(True)
        self.charts = TrainCharts()
        self.evaluation = EvaluationView()
        self._connect()
        self._layout()
        self.set_running(False, False)

    def _connect(self) -> None:
        self.open_folder.clicked.connect(self.open_folder_requested)
        self.classes.folder_dropped.connect(self.folder_chosen)
        self.add_class.clicked.connect(self._ask_class_name)
        self.remove_class.clicked.connect(self._remove_current)
        self.add_images.clicked.connect(self._add_to_current)
        self.train.clicked.connect(self.train_requested)
        self.cancel.clicked.connect(self.cancel_requested)
        self.resume.clicked.connect(self.resume_requested)
        self.evaluation.evaluate.clicked.connect(self.evaluate_requested)
        self.base.currentIndexChanged.connect(self._base_chosen)

    def _layout(self) -> None:
        classes = QGroupBox("1. Classes")
        box = QVBoxLayout(classes)
        box.addWidget(self.classes, 1)
        for buttons in ((self.open_folder, self.add_class), (self.add_images, self.remove_class)):
            row = QHBoxLayout()
            for button in buttons:
                row.addWidget(button)
            box.addLayout(row)
        box.addWidget(self.class_warnings)
        recipe = QGroupBox("2. Base model and recipe")
        form = QFormLayout(recipe)
        for title, field in (("Start from", self.base), ("", self.base_note), ("Train", self.frozen), ("", self.full),
                             ("Epochs", self.epochs), ("Image size", self.image_size), ("Augmentation", self.augment)):
            form.addRow(plain_label(title), field)
        run = QGroupBox("3. Train")
        run_layout = QVBoxLayout(run)
        buttons = QHBoxLayout()
        for button in (self.train, self.cancel, self.resume):
            buttons.addWidget(button)
        buttons.addStretch(1)
        run_layout.addLayout(buttons)
        for label in (self.status, self.chosen, self.validation):
            run_layout.addWidget(label)
        controls = QWidget()
        column = QVBoxLayout(controls)
        for group_box in (classes, recipe):
            column.addWidget(group_box)
        column.addStretch(1)
        self.classes.setMinimumHeight(90)
        self.classes.setMaximumHeight(150)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(controls)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(300)
        self.views = QTabWidget()
        self.views.addTab(self.charts, "Curves")
        self.views.addTab(self.evaluation, "Evaluation")
        # The run's buttons and words sit over its curves: what it is doing is seen beside what it draws.
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(run)
        right_layout.addWidget(self.views, 1)
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def _ask_class_name(self) -> None:
        name, ok = QInputDialog.getText(self, "New class", "Class name (it becomes the model's label):")
        if ok:
            self.add_class_requested.emit(name)

    def _add_to_current(self) -> None:
        item = self.classes.currentItem() or (self.classes.item(0) if self.classes.count() == 1 else None)
        if item is None:
            self.say("select a class first (or add one with + class), then add images to it")
            return
        self.add_images_requested.emit(item.data(NAME_ROLE))

    def _remove_current(self) -> None:
        item = self.classes.currentItem()
        if item is not None:
            self.remove_class_requested.emit(item.data(NAME_ROLE))

    def show_classes(self, classes: ClassSet) -> None:
        current = self.classes.currentItem().data(NAME_ROLE) if self.classes.currentItem() else None
        self.classes.clear()
        for c in classes.classes:
            item = QListWidgetItem(shown(f"{c.name} — {len(c.images)} image{'' if len(c.images) == 1 else 's'}", 120))
            item.setData(NAME_ROLE, c.name)
            item.setToolTip(tooltip(f"{c.name}: drop images here to add them"))
            self.classes.addItem(item)
            if c.name == current or (current is None and c is classes.classes[-1]):
                self.classes.setCurrentItem(item)
        refusals, warnings = classes.problems()
        lines = [f"✗ {r}" for r in refusals] + [f"⚠ {w}" for w in warnings]
        self.class_warnings.setText("\n".join(shown(line, 200) for line in lines[:8]))
        self.class_warnings.setVisible(bool(lines) and bool(classes.classes))

    def set_bases(self, bases: list[Base]) -> None:
        """List ``bases``, keeping the chosen one (and the recipe the user set for it) where it is still offered."""
        kept = self.chosen_base()
        self._bases = bases
        self.base.blockSignals(True)
        self.base.clear()
        for base in bases:
            self.base.addItem(shown(base.title, 120))
        index = next((i for i, b in enumerate(bases) if kept and (b.variant, b.weights) == (kept.variant, kept.weights)),
                     None)
        self.base.setCurrentIndex(index or 0)
        self.base.blockSignals(False)
        if index is None:
            self._base_chosen(0)

    def _base_chosen(self, index: int) -> None:
        if not 0 <= index < len(self._bases):
            return
        base = self._bases[index]
        self.base_note.setText(shown(base.note, 300))
        (self.frozen if base.freeze else self.full).setChecked(True)
        self.epochs.setValue(base.epochs)
        self.image_size.setValue(base.image_size)
        self.base_changed.emit()

    def chosen_base(self) -> Base | None:
        index = self.base.currentIndex()
        return self._bases[index] if 0 <= index < len(self._bases) else None

    def recipe(self) -> Recipe:
        return Recipe(self.epochs.value(), self.image_size.value(), self.frozen.isChecked(),
                      self.augment.currentData())

    def set_running(self, running: bool, resumable: bool) -> None:
        self.train.setEnabled(not running)
        self.cancel.setEnabled(running)
        self.resume.setEnabled(resumable and not running)
        for widget in (self.base, self.frozen, self.full, self.epochs, self.image_size, self.augment,
                       self.open_folder, self.add_class, self.remove_class, self.add_images, self.classes):
            widget.setEnabled(not running)

    def show_progress(self, progress: Progress) -> None:
        self.status.setText(progress.status())
        self.chosen.setText(progress.chosen())
        self.validation.setText(progress.val_text())
        self.charts.show_progress(progress)

    def say(self, text: str) -> None:
        self.status.setText(shown(text, 400))
