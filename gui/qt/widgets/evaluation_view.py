"""An evaluation as the Train panel shows it: accuracy with its interval, per-class precision and recall,
and a clickable confusion matrix whose cells list their images; an image opens in the predictions panel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QListWidget, QListWidgetItem, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from resnet_studio.core.engine import percent
from resnet_studio.core.evaluation import accuracy_text
from resnet_studio.core.text import shown

from ..plain_text import plain_label, tooltip

PATH_ROLE = Qt.ItemDataRole.UserRole
MAX_MATRIX_CLASSES = 40  # more classes than this: the matrix lists the classes present, up to this many


class EvaluationView(QWidget):
    image_opened = Signal(str)  # a path: show it in the predictions panel, with its CAM

    def __init__(self) -> None:
        super().__init__()
        self.report: dict | None = None
        self._present: list[int] = []
        self.evaluate = QPushButton("Evaluate a labelled folder…")
        self.title = plain_label("No evaluation yet: train a model, or evaluate the active model on a labelled "
                                 "folder (one subfolder per class, named as its labels).")
        self.title.setWordWrap(True)
        self.per_class = plain_label()
        self.per_class.setWordWrap(True)
        self.matrix = QTableWidget()
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.matrix.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.matrix.cellClicked.connect(self._cell_clicked)
        self.wrong = QPushButton("Misclassified")
        self.unsure = QPushButton("Least confident")
        self.wrong.clicked.connect(lambda: self._list("misclassified", "Misclassified"))
        self.unsure.clicked.connect(lambda: self._list("least_confident", "Least confident right answers"))
        self.images_title = plain_label()
        self.images = QListWidget()
        self.images.itemActivated.connect(self._opened)
        self.images.itemClicked.connect(self._opened)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.evaluate, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        layout.addWidget(self.per_class)
        hint = plain_label("Confusion matrix (rows: true class, columns: predicted). Click a cell for its images; "
                           "click an image to see it with its class activation map.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addWidget(self.matrix, 2)
        row = QHBoxLayout()
        row.addWidget(self.images_title, 1)
        row.addWidget(self.wrong)
        row.addWidget(self.unsure)
        layout.addLayout(row)
        layout.addWidget(self.images, 1)
        self.show_report(None)

    def show_report(self, report: dict | None, what: str = "") -> None:
        self.report = report
        for widget in (self.matrix, self.wrong, self.unsure, self.images, self.per_class):
            widget.setVisible(report is not None)
        if report is None:
            return
        self.title.setText(shown(f"{report['model']} on {what or report['folder']}: "
                                 f"{accuracy_text(report['correct'], report['images'])}", 400))
        self.per_class.setText(shown("  ·  ".join(
            f"{row['label']}: precision {_share(row['precision'])}, recall {_share(row['recall'])}"
            for row in report["per_class"]), 1200))
        labels = report["labels"]
        self._present = [labels.index(name) for name in report["classes_present"]][:MAX_MATRIX_CLASSES]
        names = [shown(labels[c], 40) for c in self._present]
        self.matrix.clear()
        self.matrix.setRowCount(len(names))
        self.matrix.setColumnCount(len(names))
        self.matrix.setVerticalHeaderLabels(names)
        self.matrix.setHorizontalHeaderLabels(names)
        confusion = report["confusion"]
        peak = max(1, max((confusion[r][c] for r in self._present for c in self._present), default=1))
        for i, r in enumerate(self._present):
            for j, c in enumerate(self._present):
                count = confusion[r][c]
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                strength = count / peak
                base = (46, 125, 50) if i == j else (198, 40, 40)
                item.setBackground(QBrush(QColor(*base, int(30 + 170 * strength) if count else 0)))
                item.setToolTip(tooltip(f"{_images(count)} of {labels[r]} predicted as {labels[c]}"))
                self.matrix.setItem(i, j, item)
        self._list("misclassified", "Misclassified")

    def _cell_clicked(self, row: int, column: int) -> None:
        if self.report is None:
            return
        truth, predicted = (self.report["labels"][self._present[k]] for k in (row, column))
        rows = [p for p in self.report["predictions"] if p["truth"] == truth and p["predicted"] == predicted]
        self._fill(f"{truth} predicted as {predicted}: {_images(len(rows))}", rows)

    def _list(self, key: str, title: str) -> None:
        if self.report is not None:
            rows = self.report[key]
            self._fill(f"{title}: {_images(len(rows))}", rows)

    def _fill(self, title: str, rows: list[dict]) -> None:
        self.images_title.setText(shown(title, 200))
        self.images.clear()
        for row in rows:
            item = QListWidgetItem(shown(f"{Path(row['path']).name}: {row['truth']} → {row['predicted']} "
                                         f"({percent(row['confidence'])})", 200))
            item.setData(PATH_ROLE, row["path"])
            item.setToolTip(tooltip(row["path"]))
            self.images.addItem(item)

    def _opened(self, item: QListWidgetItem) -> None:
        self.image_opened.emit(item.data(PATH_ROLE))


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _images(count: int) -> str:
    return f"{count} image{'' if count == 1 else 's'}"
