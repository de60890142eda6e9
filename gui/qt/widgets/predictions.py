"""The top-5 as horizontal bars, with the model and its weights source always in view."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, QSortFilterProxyModel, QStringListModel, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QGroupBox, QLineEdit, QListView, QSizePolicy, QVBoxLayout, QWidget

from resnet_studio.core.engine import Result
from resnet_studio.core.model_file import ModelInfo
from resnet_studio.core.text import shown
from ..plain_text import plain_label, warning_label


class Bars(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[str, float, str]] = []
        self.muted = False  # grey bars: the scores of an untrained model mean nothing
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_rows(self, rows: list[tuple[str, float, str]], muted: bool = False) -> None:
        self.rows, self.muted = rows, muted
        self.updateGeometry()
        self.update()

    def _row_height(self) -> int:
        return self.fontMetrics().height() + 12

    def sizeHint(self) -> QSize:
        return QSize(320, max(1, len(self.rows)) * self._row_height() + 4)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self.sizeHint().height())

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        row_h = self._row_height()
        metrics = self.fontMetrics()
        widest = max((metrics.horizontalAdvance(label) for label, _, _ in self.rows), default=0)
        label_w = min(int(self.width() * 0.45), widest + 16)
        pct_w = metrics.horizontalAdvance("100.0%") + 8
        bar_w = max(10, self.width() - label_w - pct_w)
        accent = palette.color(QPalette.ColorRole.Mid if self.muted else QPalette.ColorRole.Highlight)
        for i, (label, p, percent) in enumerate(self.rows):
            y = i * row_h + 2
            text = metrics.elidedText(label, Qt.TextElideMode.ElideRight, label_w - 8)
            painter.setPen(palette.color(QPalette.ColorRole.WindowText))
            painter.drawText(QRectF(0, y, label_w - 8, row_h - 4),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, text)
            track = QRectF(label_w, y + 3, bar_w, row_h - 10)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(track, 4, 4)
            fill = QColor(accent) if i == 0 else QColor(accent.red(), accent.green(), accent.blue(), 150)
            painter.setBrush(fill)
            painter.drawRoundedRect(QRectF(track.x(), track.y(), max(2.0, bar_w * p), track.height()), 4, 4)
            painter.setPen(palette.color(QPalette.ColorRole.WindowText))
            painter.drawText(QRectF(label_w + bar_w + 6, y, pct_w, row_h - 4), Qt.AlignmentFlag.AlignVCenter,
                             percent)


class PredictionsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.title = plain_label("Drop images here, or use File → Open (Ctrl+O) or paste (Ctrl+V).")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.title.setFont(font)
        self.bars = Bars()
        self.source = plain_label()
        self.source.setWordWrap(True)
        self.source.setObjectName("weightsSource")
        self.warning = warning_label("oodWarning")
        self.lesion = warning_label("lesionNote")
        self.lesion.hide()
        layout.addWidget(self.title)
        layout.addWidget(self.lesion)
        layout.addWidget(self.warning)
        layout.addWidget(self.bars)
        layout.addWidget(self.source)
        layout.addWidget(self._classes_box(), 1)

    def _classes_box(self) -> QGroupBox:
        """Every class the model can answer with, searchable: what it knows is all it can say."""
        self.classes_box = QGroupBox("Classes this model knows")
        self.class_names = QStringListModel(self)
        self.class_filter = QSortFilterProxyModel(self)
        self.class_filter.setSourceModel(self.class_names)
        self.class_filter.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.class_search = QLineEdit()
        self.class_search.setPlaceholderText("Search the classes")
        self.class_search.setClearButtonEnabled(True)
        self.class_search.textChanged.connect(self.class_filter.setFilterFixedString)
        view = QListView()
        view.setModel(self.class_filter)
        view.setUniformItemSizes(True)
        view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        box_layout = QVBoxLayout(self.classes_box)
        box_layout.addWidget(self.class_search)
        box_layout.addWidget(view)
        return self.classes_box

    def set_model(self, info: ModelInfo) -> None:
        self.class_names.setStringList([f"{i}: {shown(label)}" for i, label in enumerate(info.labels)])
        self.classes_box.setTitle(f"Classes this model knows ({len(info.labels):,})")
        self.class_search.clear()

    def show_lesion(self, removed: frozenset[str], change: str) -> None:
        """Say which blocks are out, and what that did to this image's answer (``change``)."""
        self.lesion.setVisible(bool(removed))
        if removed:
            names = ", ".join(sorted(removed)[:6]) + (" …" if len(removed) > 6 else "")
            self.lesion.setText(shown(f"✂ Without {names}" + (f" — {change}" if change else ""), 400))

    def show_result(self, name: str, result: Result | None, error: str | None, trained_on: str = "") -> None:
        """``trained_on`` describes the model's training data, for the out-of-distribution warning."""
        self.warning.setVisible(bool(result and result.out_of_distribution))
        if result and result.out_of_distribution:
            what = f" ({shown(trained_on)})" if trained_on else ""
            self.warning.setText(f"⚠ This image is unlike the model's training data{what}: the prediction below "
                                 f"is probably meaningless.")
        if error:
            self.title.setText(shown(f"{name}: {error.split(': ', 1)[-1]}", 400))
            self.bars.set_rows([])
            self.source.setText("")
            return
        if result is None:
            self.title.setText(f"{shown(name)}: waiting for the model…")
            self.bars.set_rows([])
            return
        best = result.predictions[0]
        untrained = result.weights.startswith("untrained")
        doubtful = bool(result.out_of_distribution)
        # An untrained model's top class is noise, and a flagged image's is a guess: the headline says so
        # instead of naming it boldly, and the bars are drawn muted.
        if untrained:
            self.title.setText("Random weights: these predictions mean nothing")
        elif doubtful:
            self.title.setText(f"Doubtful: {shown(best.label)}? — {best.percent}")
        else:
            self.title.setText(f"{shown(best.label)} — {best.percent}")
        self.bars.set_rows([(shown(p.label), p.probability, p.percent) for p in result.predictions],
                           untrained or doubtful)
        self.source.setText(shown(f"{name} · model {result.model} · {result.weights} · {result.provider_label}", 600))
