"""Feature maps of one block (viridis, with its legend) and the class activation map over the image."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QComboBox, QCompleter, QFormLayout, QGridLayout, QGroupBox, QHBoxLayout,
                               QPushButton, QScrollArea, QSizePolicy, QSlider, QSpinBox, QStackedWidget, QVBoxLayout,
                               QWidget)

from resnet_studio.gui.viewmodel.colormap import colorize, overlay
from resnet_studio.gui.viewmodel.images import class_choices
from resnet_studio.core.engine import BlockParts, ClassActivationMap, FeatureMaps, Prediction, percent
from resnet_studio.core.model_file import ModelInfo
from resnet_studio.core.text import shown
from ..file_dialogs import FileDialogs, file_stem
from ..plain_text import plain_label
from ..qt_images import fitted_overlay, rgb_to_qimage, save_image
from .block_adds import BlockAddsView
from .combo import combo
from resnet_studio.gui.viewmodel.receptive_field import hover_text
from .lesion_controls import LesionControls
from .channels import TILE, ChannelDialog, ColourLegend, Tile, number

EMPTY_HINT = "Select an image in the list to see what this block computes."
NO_IMAGES_HINT = "Drop images onto the window, then select one to see its feature maps."
SAVED_SIDE = 512  # the CAM is saved at least this large on its longer side, pixels kept sharp
TOP_CLASSES = 5  # the image's most likely classes head the class list


class ActivationsPanel(QWidget):
    """Asks for work through ``requested``; the owner decides when (only while the panel is visible)."""

    requested = Signal()
    notice = Signal(str)

    def __init__(self, dialogs: FileDialogs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dialogs = dialogs
        self._model_name = self._cam_block = self._cam_label = ""
        self._arch = None
        self._labels: list[str] = []
        self.block = QComboBox()
        self.block.setAccessibleName("Block")
        self.block.setMinimumContentsLength(14)
        self.top_n = QSpinBox()
        self.top_n.setRange(1, 64)
        self.top_n.setValue(16)
        self.order = combo("Order", [("strongest first", False), ("weakest first", True)])
        self.scale = combo("Scale", [("per channel", False), ("shared by all channels", True)])
        self.cam_class = combo("CAM class", [], min_contents=10)
        # Typing filters the classes (1,000 of them in ImageNet) by any part of their name.
        self.cam_class.setEditable(True)
        self.cam_class.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.cam_class.completer().setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.cam_class.completer().setFilterMode(Qt.MatchFlag.MatchContains)
        self.cam_scale = combo("CAM scale", [("class's own peak", False), ("one for all classes", True)],
                               "Own peak: every class's map reaches full colour. One for all classes: a class the "
                               "model gives little stays dim.")
        self.cam_legend = ColourLegend()
        self.cam_method = combo("CAM method", [("CAM · last block", "cam"),
                                               ("Score-CAM · the block on the left", "score-cam")],
                                "CAM (Zhou et al. 2016) weighs the last block's channels by the classifier. "
                                "Score-CAM (Wang et al. 2020) weighs any block's channels by the class score of the "
                                "image masked with each: forward passes only, one per channel.", min_contents=10)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(55)
        self.opacity.setAccessibleName("CAM opacity")
        self.mode = combo("Show", [("the block's output channels", False),
                                   ("what the block adds: x, F(x), shortcut, output", True)], min_contents=16)
        self.legend = ColourLegend()
        self.lesion = LesionControls()
        self.remove_button, self.restore_button = self.lesion.remove_button, self.lesion.restore_button
        self.removal_requested = self.lesion.removal_requested
        self.save_grid_button = QPushButton("Save PNG…")
        self.save_cam_button = QPushButton("Save PNG…")
        for button in (self.save_grid_button, self.save_cam_button):
            button.setEnabled(False)
        layout = QHBoxLayout(self)
        layout.addWidget(self._maps_box(), 3)
        layout.addWidget(self._cam_box(), 2)
        self.channel_dialog = ChannelDialog(self)
        self._maps: FeatureMaps | None = None
        self._model_input: np.ndarray | None = None
        self._image: np.ndarray | None = None
        self._cam: np.ndarray | None = None
        self._crop: tuple[float, float, float, float] | None = None
        self.block.currentIndexChanged.connect(lambda _: self.requested.emit())
        self.block.currentIndexChanged.connect(lambda _: self.lesion.show_state(self.current_block()))
        self.top_n.valueChanged.connect(lambda _: self.requested.emit())
        self.order.currentIndexChanged.connect(lambda _: self.requested.emit())
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.cam_class.currentIndexChanged.connect(lambda _: self.requested.emit())
        self.cam_scale.currentIndexChanged.connect(lambda _: self.requested.emit())
        self.cam_method.currentIndexChanged.connect(lambda _: self.requested.emit())
        self.cam_method.currentIndexChanged.connect(
            lambda _: self.cam_scale.setEnabled(self.cam_method.currentData() == "cam"))
        self.scale.currentIndexChanged.connect(lambda _: self._draw_maps())
        self.opacity.valueChanged.connect(lambda _: self._draw_cam())
        self.save_grid_button.clicked.connect(lambda: self._ask_and_save(self._name("feature-maps"), self.save_grid))
        self.save_cam_button.clicked.connect(lambda: self._ask_and_save(self._name("cam"), self.save_cam))

    def _maps_box(self) -> QGroupBox:
        """The feature maps (or what a block adds) with their controls."""
        self.controls = controls = QFormLayout()
        controls.addRow(plain_label("Block"), self.block)
        controls.addRow(plain_label("Show"), self.mode)
        channels = QHBoxLayout()
        channels.addWidget(self.top_n)
        channels.addWidget(self.order, 1)
        controls.addRow(plain_label("Channels"), channels)
        scale = QHBoxLayout()
        scale.addWidget(self.scale, 1)
        scale.addWidget(self.save_grid_button)
        controls.addRow(plain_label("Scale"), scale)
        controls.addRow(plain_label("Lesion"), self.lesion)
        self.grid_box = QGroupBox("Feature maps")
        self.grid = QGridLayout()
        self.grid.setSpacing(6)
        self.grid_holder = QWidget()
        self.grid_holder.setLayout(self.grid)
        self.hint = plain_label(NO_IMAGES_HINT)
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_holder)
        self.adds = BlockAddsView()
        self.adds.describer = self.describer
        # Scrolls as a whole, so a small window keeps its minimum size.
        adds_scroll = QScrollArea()
        adds_scroll.setWidgetResizable(True)
        adds_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the maps shrink to fit
        adds_scroll.setWidget(self.adds)
        self.pages = QStackedWidget()
        self.pages.addWidget(scroll)
        self.pages.addWidget(adds_scroll)
        box_layout = QVBoxLayout(self.grid_box)
        box_layout.addLayout(controls)
        box_layout.addWidget(self.legend)
        box_layout.addWidget(self.hint)
        box_layout.addWidget(self.pages, 1)
        return self.grid_box

    def _cam_box(self) -> QGroupBox:
        self.cam_box = QGroupBox("Class activation map")
        self.cam_view = plain_label(NO_IMAGES_HINT)
        self.cam_view.setWordWrap(True)
        self.cam_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cam_view.setMinimumSize(200, 200)
        self.cam_view.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.cam_note = plain_label()
        self.cam_note.setWordWrap(True)
        cam_controls = QFormLayout()
        cam_controls.addRow(plain_label("Method"), self.cam_method)
        cam_controls.addRow(plain_label("Class"), self.cam_class)
        cam_controls.addRow(plain_label("Scale"), self.cam_scale)
        opacity = QHBoxLayout()
        opacity.addWidget(self.opacity, 1)
        opacity.addWidget(self.save_cam_button)
        cam_controls.addRow(plain_label("Opacity"), opacity)
        cam_layout = QVBoxLayout(self.cam_box)
        cam_layout.addLayout(cam_controls)
        cam_layout.addWidget(self.cam_view, 1)
        cam_layout.addWidget(self.cam_legend)
        cam_layout.addWidget(self.cam_note)
        return self.cam_box

    def set_removable(self, removable: dict[str, str | None]) -> None:
        """The model's blocks, each with the reason it cannot be removed (None where it can)."""
        self.lesion.show_state(self.current_block(), removable)

    def show_removed(self, removed: frozenset[str]) -> None:
        self.lesion.show_state(self.current_block(), removed=removed)

    def set_model(self, info: ModelInfo) -> None:
        for box in (self.block, self.cam_class):
            box.blockSignals(True)
            box.clear()
        for name in (["stem"] if info.taps.stem else []) + info.taps.blocks():
            self.block.addItem(shown(name), name)
        self._model_name, self._labels, self._arch = info.name, list(info.labels), info.architecture
        taps = info.taps
        self._cam_block = next((t.block for t in taps.taps if t.tensor == taps.cam_layer), "last-block")
        self._fill_classes(None)
        for box in (self.block, self.cam_class):
            box.blockSignals(False)
        self.grid_box.setEnabled(info.has_activations)
        with_parts = info.taps.blocks("branch")
        self.mode.model().item(1).setEnabled(bool(with_parts))
        if not with_parts:
            self.mode.setCurrentIndex(0)
        elif self.showing_adds:  # the stem adds nothing: show the first block that does
            self.block.blockSignals(True)
            self.block.setCurrentIndex(max(0, self.block.findData(with_parts[0])))
            self.block.blockSignals(False)
        self.adds.set_blocks(with_parts)
        self.cam_box.setEnabled(info.has_cam or info.has_activations)  # Score-CAM needs the taps alone
        self.clear(EMPTY_HINT if info.has_activations else "This model file carries no activation outputs.",
                   "" if info.has_cam else "This model file carries no class activation map.")

    def clear(self, hint: str, cam_hint: str | None = None) -> None:
        """Forget the shown maps at once (a model switch, no image) and say what to do instead."""
        self._clear_grid()
        self._maps = self._model_input = self._image = self._cam = None
        self.hint.setText(hint)
        self.hint.show()
        self.adds.clear()
        self.cam_view.clear()
        self.cam_view.setText(hint if cam_hint is None else cam_hint or hint)
        self.cam_note.setText("")
        self.grid_box.setTitle("Feature maps")
        self.cam_box.setTitle("Class activation map")
        self.cam_legend.show_scale("low", "high", "")
        self.legend.set_range(None, None, shared=self.shared)
        self.channel_dialog.hide()
        for button in (self.save_grid_button, self.save_cam_button):
            button.setEnabled(False)

    @property
    def shared(self) -> bool:
        return bool(self.scale.currentData())

    @property
    def showing_adds(self) -> bool:
        return bool(self.mode.currentData())

    def _mode_changed(self) -> None:
        self.pages.setCurrentIndex(1 if self.showing_adds else 0)
        self.legend.setVisible(not self.showing_adds)
        for row in (2, 3):  # channels and scale belong to the output-channel grid
            self.controls.setRowVisible(row, not self.showing_adds)
        self.requested.emit()

    def show_parts(self, parts: BlockParts, responses: np.ndarray | None) -> None:
        self.hint.hide()
        self.adds.show_parts(parts)
        self.adds.show_responses(responses, None, 0)
        self.grid_box.setTitle(f"What {shown(parts.block, 60)} adds")

    def show_mean_responses(self, mean: np.ndarray, images: int, closeness: np.ndarray | None = None) -> None:
        """The layer responses averaged over the loaded images, beside this image's, and how close each block
        is to the identity."""
        self.adds.show_responses(None, mean, images)
        if closeness is not None:
            self.adds.show_closeness(closeness, images)

    @property
    def weakest(self) -> bool:
        return bool(self.order.currentData())

    def select_block(self, name: str) -> None:
        index = self.block.findData(name)
        if index >= 0:
            self.block.setCurrentIndex(index)

    def current_block(self) -> str | None:
        return self.block.currentData()

    def current_class(self) -> int | None:
        return self.cam_class.currentData()

    def _clear_grid(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()

    def show_maps(self, maps: FeatureMaps, model_input: np.ndarray | None = None) -> None:
        if self.showing_adds:  # asked for what a block adds, on the stem (or a block without its parts)
            self.adds.clear()
            self.hint.setText(f"{shown(maps.block, 40)} has no F(x) and shortcut: choose a residual block "
                              f"(layer1.0 and after) to see what it adds.")
            self.hint.show()
            return
        self._maps, self._model_input = maps, model_input
        self._draw_maps()

    def _draw_maps(self) -> None:
        maps = self._maps
        if maps is None:
            return
        self._clear_grid()
        self.hint.hide()
        scaled, low, high = maps.scaled(self.shared)
        self.legend.set_range(low, high, self.shared)
        columns = max(1, (self.grid_box.width() - 48) // (TILE + 6 + self.grid.spacing()))  # 6: the focus margins
        c, h, w = maps.shape
        for i, (channel, tile) in enumerate(zip(maps.channels, colorize(scaled))):
            values = maps.values[i]
            silent = values.max() <= 0  # on this image; a channel silent on every image is dead
            pixmap = QPixmap.fromImage(rgb_to_qimage(tile)).scaled(
                TILE, TILE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation)
            cell = Tile(channel, pixmap, f"channel {channel}: mean {number(maps.means[i])}, "
                        f"min {number(values.min())}, max {number(values.max())}; click to enlarge",
                        f"ch {channel}" + (" · all 0" if silent else ""), values,
                        self.describer(maps.block, f"ch {channel}"))
            cell.clicked.connect(self.enlarge)
            self.grid.addWidget(cell, i // columns, i % columns, Qt.AlignmentFlag.AlignTop)
        self.grid.setRowStretch(len(maps.channels) // columns + 1, 1)
        order = "weakest" if self.weakest else "top"
        self.grid_box.setTitle(f"Feature maps · {shown(maps.block)} · {c}×{h}×{w}, "
                               f"{order} {len(maps.channels)} channels by mean activation")
        self.save_grid_button.setEnabled(True)

    def describer(self, block: str, what: str):
        return hover_text(self._arch, block, what)

    def enlarge(self, channel: int) -> None:
        if self._maps is not None and channel in self._maps.channels:
            self.channel_dialog.show_feature_map(self._maps, channel, self.shared, self._model_input)

    @property
    def shared_cam(self) -> bool:
        return bool(self.cam_scale.currentData())

    @property
    def score_cam_block(self) -> str | None:
        """The block to map with Score-CAM, or None for CAM at the last block."""
        return self.current_block() if self.cam_method.currentData() == "score-cam" else None

    def _fill_classes(self, probabilities: np.ndarray | None, top: list[Prediction] = ()) -> None:
        """The class list (``class_choices``); the chosen class stays chosen."""
        combo, chosen = self.cam_class, self.cam_class.currentData()
        combo.blockSignals(True)
        combo.clear()
        for choice in class_choices(self._labels, probabilities, top, TOP_CLASSES):
            if choice is None:
                combo.insertSeparator(combo.count())
            else:
                combo.addItem(*choice)
        combo.setCurrentIndex(max(0, combo.findData(chosen)))
        combo.blockSignals(False)

    def show_cam(self, image_rgb: np.ndarray, found: ClassActivationMap, class_label: str,
                 crop: tuple[float, float, float, float] | None, top: list[Prediction] = (),
                 method: str = "Class activation map", note: str = "") -> None:
        """``top``: the image's predictions as the app shows them, to head the class list; ``method``: what
        made the map; ``note``: what bounded its work."""
        self._image, self._cam, self._crop = image_rgb, found.heat, crop
        self._cam_label = class_label
        self._fill_classes(found.probabilities, top)
        self.cam_box.setTitle(f"{shown(method, 60)} · {shown(class_label)} ({percent(found.probability)})")
        scale = ("Brightest: the highest class activation of any class, so a class the model gives little stays "
                 "dim." if found.shared else "Brightest: this class's own peak; classes do not compare on it.")
        self.cam_note.setText(
            ("The model sees only the part inside the dashed box (its centre crop); nothing outside it can light up."
             if crop else "The model sees the whole image.") + " " + scale + (f" Score-CAM used {note}." if note else ""))
        self.cam_legend.show_scale("0", number(found.peak), "")
        self.save_cam_button.setEnabled(True)
        self._draw_cam()

    def cam_picture(self, width: int, height: int) -> QPixmap | None:
        """The overlay fitted into ``width`` × ``height``, the crop outlined at that size (``fitted_overlay``)."""
        if self._image is None or self._cam is None:
            return None
        return fitted_overlay(overlay(self._image, self._cam, self.opacity.value() / 100), self._crop, width, height)

    def _draw_cam(self) -> None:
        size = self.cam_view.size()
        picture = self.cam_picture(size.width() - 4, size.height() - 4)
        if picture is not None:
            self.cam_view.setPixmap(picture)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._draw_cam()

    # Saving ---------------------------------------------------------------------------------------------------

    def save_grid(self, path: str) -> None:
        if self._maps is None:
            raise OSError("no feature maps to save yet")
        image = self.grid_holder.grab().toImage()
        save_image(image, path)

    def save_cam(self, path: str) -> None:
        """At least SAVED_SIDE px on the longer side, whatever the size of the image."""
        side = max(SAVED_SIDE, *(self._image.shape[:2] if self._image is not None else (0,)))
        picture = self.cam_picture(side, side)
        if picture is None:
            raise OSError("no class activation map to save yet")
        save_image(picture.toImage(), path)

    def _name(self, what: str) -> str:
        """A suggested file name that says what the picture is: model, block, and for the CAM its class."""
        if what == "cam":
            method = "score-cam" if self.score_cam_block else "cam"
            return file_stem(self._model_name, self.score_cam_block or self._cam_block, method, self._cam_label) + ".png"
        return file_stem(self._model_name, self.current_block() or "", what) + ".png"

    def _ask_and_save(self, suggested: str, save) -> None:
        self.dialogs.save_png(suggested, save, self.notice.emit)

    def sizeHint(self) -> QSize:
        return QSize(900, 600)
