"""Remove the chosen block from the network, put it back, or restore them all (Veit et al. 2016)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget

from resnet_studio.core.text import shown
from ..plain_text import tooltip

REMOVE_TIP = ("Take the block out of the network, in memory (Veit et al. 2016): its output becomes what it does to "
              "the shortcut alone. Every image is classified again and compared with the whole network.")


class LesionControls(QWidget):
    removal_requested = Signal(object)  # the frozenset of blocks to take out; empty: restore all

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.remove_button = QPushButton("Remove this block")
        self.restore_button = QPushButton("Restore all")
        self.restore_button.setEnabled(False)
        self.removable: dict[str, str | None] = {}  # block -> why it cannot be removed (None: it can)
        self.removed: frozenset[str] = frozenset()
        self.block: str | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.remove_button)
        layout.addWidget(self.restore_button)
        layout.addStretch(1)
        self.remove_button.clicked.connect(self._toggle)
        self.restore_button.clicked.connect(lambda: self.removal_requested.emit(frozenset()))

    def show_state(self, block: str | None = None, removable: dict[str, str | None] | None = None,
                   removed: frozenset[str] | None = None) -> None:
        """Any of: the block chosen, the model's removable blocks (with reasons), the blocks out now."""
        self.block = block if block is not None else self.block
        self.removable = removable if removable is not None else self.removable
        self.removed = frozenset(removed) if removed is not None else self.removed
        block = self.block
        reason = self.removable.get(block, "the stem is not a block") if block else "no block chosen"
        out = block in self.removed
        self.remove_button.setText(f"Put {shown(block or '', 30)} back" if out else
                                   f"Remove {shown(block or 'this block', 30)}")
        self.remove_button.setEnabled(out or reason is None)
        self.remove_button.setToolTip(REMOVE_TIP if reason is None or out else
                                      tooltip(f"{block} cannot be removed: {reason}"))
        self.restore_button.setEnabled(bool(self.removed))
        self.restore_button.setText(f"Restore all ({len(self.removed)} out)" if self.removed else "Restore all")

    def _toggle(self) -> None:
        if self.block in self.removable:
            self.removal_requested.emit(self.removed ^ {self.block})
