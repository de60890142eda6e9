"""The model picker: a button naming the active model, and a popup listing every offer by group,
filtered as the user types. Right-click on a row for what can be done with it."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (QFrame, QLineEdit, QMenu, QPushButton, QSizePolicy, QTreeView, QVBoxLayout,
                               QWidget)

from resnet_studio.core.text import shown
from resnet_studio.gui.viewmodel.lineup import GROUP_TITLES, Offer
from ..plain_text import tooltip

OFFER_ROLE = Qt.ItemDataRole.UserRole + 1


class OfferFilter(QSortFilterProxyModel):
    """Rows whose text holds every typed word; a group heading stays while one of its rows matches."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.words: list[str] = []
        self.setRecursiveFilteringEnabled(True)

    def set_text(self, text: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10 and newer; invalidateFilter is deprecated there
            self.beginFilterChange()
            self.words = text.lower().split()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.words = text.lower().split()
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent: QModelIndex) -> bool:
        index = self.sourceModel().index(row, 0, parent)
        if index.data(OFFER_ROLE) is None:
            return False  # a heading shows only through its matching rows
        text = str(index.data(Qt.ItemDataRole.DisplayRole)).lower()
        return all(word in text for word in self.words)


class ModelPicker(QWidget):
    chosen = Signal(object)  # Offer
    reveal_requested = Signal(object)
    delete_requested = Signal(object)
    twin_requested = Signal(object)  # make an int8 twin of an exported ImageNet model
    random_requested = Signal(object)  # export an ImageNet variant with random weights instead
    calibrate_requested = Signal(object)  # fit the out-of-distribution warning to a folder of images

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.offers: list[Offer] = []
        self.active_key: str | None = None
        self.button = QPushButton("Loading models…")
        self.button.setAccessibleName("Model")
        self.button.setToolTip("Pick a model: every variant, exported or not (type to filter)")
        self.button.setMinimumWidth(220)
        self.button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.button.clicked.connect(self.open_popup)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)

        self.popup = QFrame(self, Qt.WindowType.Popup)
        self.popup.setFrameShape(QFrame.Shape.StyledPanel)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Type to filter: resnet50, imagenet, int8, untrained…")
        self.filter.setClearButtonEnabled(True)
        self.model = QStandardItemModel(self)
        self.proxy = OfferFilter(self)
        self.proxy.setSourceModel(self.model)
        self.tree = QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setItemsExpandable(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        popup_layout = QVBoxLayout(self.popup)
        popup_layout.setContentsMargins(4, 4, 4, 4)
        popup_layout.addWidget(self.filter)
        popup_layout.addWidget(self.tree)
        self.filter.textChanged.connect(self._filter_changed)
        self.filter.returnPressed.connect(self._choose_first)
        self.tree.activated.connect(self._row_activated)
        self.tree.clicked.connect(self._row_activated)
        self.tree.customContextMenuRequested.connect(self._context_menu)

    # Content ------------------------------------------------------------------------------------------------

    def set_offers(self, offers: list[Offer], active_key: str | None) -> None:
        self.offers = offers
        self.model.clear()
        groups: dict[str, QStandardItem] = {}
        for offer in offers:
            if offer.group not in groups:
                heading = QStandardItem(GROUP_TITLES[offer.group])
                heading.setFlags(Qt.ItemFlag.ItemIsEnabled)
                font = QFont(heading.font())
                font.setBold(True)
                heading.setFont(font)
                groups[offer.group] = heading
                self.model.appendRow(heading)
            item = QStandardItem(shown(offer.line(), 300))
            item.setData(offer, OFFER_ROLE)
            item.setEditable(False)
            item.setToolTip(tooltip(self._tooltip(offer)))
            if offer.error:
                item.setFlags(Qt.ItemFlag.NoItemFlags)
            if offer.key == active_key:
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            groups[offer.group].appendRow(item)
        self.tree.expandAll()
        self.set_active(active_key)

    def _tooltip(self, offer: Offer) -> str:
        if offer.exported:
            return "\n".join(f"{p}: {e.path}" for p, e in offer.files.items())
        if offer.checkpoint is not None:
            cache = "cached at" if offer.checkpoint_cached else "will be downloaded to"
            return f"Export with ImageNet weights from {offer.checkpoint.url}\n{cache} {offer.checkpoint.cache_path}"
        return "Export with random weights (in a separate process)"

    def set_active(self, key: str | None, precision: str | None = None) -> None:
        """Name the model that is really running; called only once it is active."""
        self.active_key = key
        offer = self.offer(key)
        if offer is None:
            return
        text = offer.title + (f" · {precision}" if precision else "")
        self.button.setText(shown(text, 80))
        self.button.setToolTip(tooltip(offer.line()))

    def offer(self, key: str | None) -> Offer | None:
        return next((o for o in self.offers if o.key == key), None)

    # Popup --------------------------------------------------------------------------------------------------

    def open_popup(self) -> None:
        self.filter.clear()
        self.proxy.set_text("")
        self.tree.expandAll()
        # As wide as the longest line, within the screen; rows that still do not fit are elided.
        screen = self.screen().availableGeometry() if self.screen() else None
        width = max(self.button.width(), self.tree.sizeHintForColumn(0) + 48)
        if screen is not None:
            width = min(width, screen.width() - 16)
        self.popup.resize(width, 460 if screen is None else min(460, screen.height() // 2))
        below = self.button.mapToGlobal(QPoint(0, self.button.height()))
        if screen is not None:
            below.setX(max(screen.left(), min(below.x(), screen.right() - width)))
        self.popup.move(below)
        self.popup.show()
        self.filter.setFocus()

    def _filter_changed(self, text: str) -> None:
        self.proxy.set_text(text)
        self.tree.expandAll()

    def _visible_offers(self) -> list[tuple[QModelIndex, Offer]]:
        found = []
        for group in range(self.proxy.rowCount()):
            parent = self.proxy.index(group, 0)
            for row in range(self.proxy.rowCount(parent)):
                index = self.proxy.index(row, 0, parent)
                found.append((index, index.data(OFFER_ROLE)))
        return found

    def _choose_first(self) -> None:
        selected = self.tree.currentIndex()
        if selected.isValid() and selected.data(OFFER_ROLE) is not None:
            self._row_activated(selected)
            return
        usable = [(i, o) for i, o in self._visible_offers() if not o.error]
        # Return takes what is on disk first: typing "resnet50" means the export there, not a download.
        usable.sort(key=lambda pair: not pair[1].exported)
        if usable:
            self._row_activated(usable[0][0])

    def _row_activated(self, index: QModelIndex) -> None:
        offer = index.data(OFFER_ROLE)
        if offer is None or offer.error:
            return
        self.popup.hide()
        self.chosen.emit(offer)

    def _context_menu(self, point: QPoint) -> None:
        offer = self.tree.indexAt(point).data(OFFER_ROLE)
        if offer is None:
            return
        menu = QMenu(self.tree)
        for action in self.actions_for(offer, menu):
            menu.addAction(action)
        if not menu.isEmpty() and menu.exec(self.tree.viewport().mapToGlobal(point)) is not None:
            self.popup.hide()  # an action was taken: the popup must not swallow the next click

    def actions_for(self, offer: Offer, parent) -> list[QAction]:
        """What can be done with ``offer`` besides choosing it, as menu actions."""
        actions = []

        def add(text: str, signal, enabled: bool = True, tip: str = "") -> None:
            action = QAction(text, parent)
            action.setEnabled(enabled)
            action.setToolTip(tip)
            action.triggered.connect(lambda checked=False: signal.emit(offer))
            actions.append(action)

        if offer.exported:
            add("Show in file manager", self.reveal_requested)
            if offer.weights == "imagenet" and "int8" not in offer.files:
                add("Make an int8 twin from a folder of images…", self.twin_requested)
            if not offer.shipped:
                add("Fit the “unlike the training data” warning to a folder of images…", self.calibrate_requested,
                    tip="for models whose training data is not at hand, such as the ImageNet exports")
            add("Delete…", self.delete_requested, not offer.shipped and offer.key != self.active_key,
                "shipped models cannot be deleted" if offer.shipped else "")
        elif offer.weights == "imagenet":
            add("Export with random weights instead", self.random_requested)
        return actions
