"""The Train tab with the real training child process, on small texture folders written with Pillow."""

import math
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from qt_events import drop, files
from runners import TIMEOUT
from training_data import texture, texture_folder

EPOCHS = 100  # the cancelled run's
TRAINING = 180_000  # ms: torch import, training, and the fp32 + int8 export on a loaded 2-core machine


def _choose(panel, variant: str = "resnet20", kind: str = "random", epochs: int = 3, size: int = 16) -> None:
    index = next(i for i, b in enumerate(panel._bases) if b.variant == variant and b.kind == kind)
    panel.base.setCurrentIndex(index)
    panel.epochs.setValue(epochs)
    panel.image_size.setValue(size)


def _item(panel, name: str):
    return next(panel.classes.item(i) for i in range(panel.classes.count())
                if panel.classes.item(i).text().startswith(name + " "))


def test_train_from_a_dropped_folder_lands_a_model_that_classifies(open_window, qtbot, tmp_path):
    data = texture_folder(tmp_path / "textures", per_class=8)
    models = tmp_path / "models"
    window = open_window(models)
    panel = window.train
    window.tabs.setCurrentWidget(panel)
    drop(panel.classes.viewport(), files([data]))
    qtbot.waitUntil(lambda: panel.classes.count() == 2, timeout=TIMEOUT)
    assert _item(panel, "dots").text() == "dots — 8 images"
    assert panel.status.text() == "2 classes, 16 images: ready to train"
    _choose(panel, epochs=3)
    # An image in the window before training: the new model classifies it again when it lands.
    texture("stripes", __import__("numpy").random.default_rng(7)).save(tmp_path / "new.png")
    drop(window, files([tmp_path / "new.png"]))
    qtbot.waitUntil(lambda: any(e.result is not None for e in window.studio.entries.values()), timeout=TIMEOUT)
    points = []
    window.controller.training.panel.charts.loss_curve.sigPlotChanged.connect(
        lambda curve: points.append(len(curve.getData()[0] if curve.getData()[0] is not None else [])))
    qtbot.mouseClick(panel.train, Qt.MouseButton.LeftButton)
    assert not panel.train.isEnabled() and panel.cancel.isEnabled()
    qtbot.waitUntil(lambda: window.studio.info is not None and window.studio.info.name.startswith("resnet20-textures"),
                    timeout=TRAINING)
    # The curves grew as the child reported, step by step, not once at the end.
    assert len(points) >= 3 and points == sorted(points) and points[-1] >= 3
    validation_x, validation_y = panel.charts.val_acc.getData()
    assert list(validation_x) == [1, 2, 3] and all(0 <= y <= 1 for y in validation_y)
    assert len(panel.charts.responses.listDataItems()) == 3  # one layer-response curve per epoch
    assert (models / "resnet20-textures.onnx").is_file() and (models / "resnet20-textures-int8.onnx").is_file()
    assert not list(models.glob("*.tmp")) and not list(models.glob(".*.onnx*"))
    # Four held-out images (one in five of each class), under 20: the accuracy comes with its interval.
    assert "on 4 images (95% interval" in panel.validation.text() and "held out" in panel.validation.text()
    qtbot.waitUntil(lambda: panel.evaluation.report is not None, timeout=TIMEOUT)
    report = panel.evaluation.report
    assert sum(map(sum, report["confusion"])) == 4 and report["labels"] == ["dots", "stripes"]
    qtbot.waitUntil(lambda: all(e.result is not None and e.result.model.startswith("resnet20-textures")
                                for e in window.studio.entries.values()), timeout=TIMEOUT)
    result = next(iter(window.studio.entries.values())).result
    assert {p.label for p in result.predictions} == {"dots", "stripes"}
    # The new model is a base to train from, after the shipped ones: the default base stays the same.
    titles = [b.title for b in panel._bases]
    assert titles[0].startswith("resnet20-fashion-mnist (trained on Fashion-MNIST, greyscale, 28 px)")
    assert any(t.startswith("resnet20-textures (trained on textures, 16 px)") for t in titles)
    # Other classes: the finished run's lines no longer stand beside them.
    viewport = panel.classes.viewport()  # dropped below the rows: a folder dropped onto a class adds to it
    drop(viewport, files([texture_folder(tmp_path / "other", per_class=3)]),
         at=QPoint(viewport.width() // 2, viewport.height() - 4))
    qtbot.waitUntil(lambda: panel.classes.count() == 2 and _item(panel, "dots").text() == "dots — 3 images", timeout=TIMEOUT)
    assert panel.status.text() == "2 classes, 6 images: ready to train"
    assert panel.validation.text() == "" and panel.chosen.text() == ""
    # A confusion cell lists its images; clicking one shows it in the window with its CAM.
    matrix = panel.evaluation.matrix
    cell = next((r, c) for r in range(2) for c in range(2) if matrix.item(r, c).text() != "0")
    qtbot.mouseClick(matrix.viewport(), Qt.MouseButton.LeftButton, pos=matrix.visualItemRect(matrix.item(*cell)).center())
    assert panel.evaluation.images.count() == int(matrix.item(*cell).text())
    first = panel.evaluation.images.item(0)
    qtbot.mouseClick(panel.evaluation.images.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.evaluation.images.visualItemRect(first).center())
    path = first.data(Qt.ItemDataRole.UserRole)
    assert window.tabs.currentWidget() is window.activations
    qtbot.waitUntil(lambda: window.list.currentItem() is not None and
                    window.studio.entries[window.list.current_id()].path == path, timeout=TIMEOUT)


def test_cancel_keeps_the_checkpoint_and_resume_finishes_the_run(open_window, qtbot, tmp_path, monkeypatch):
    data = texture_folder(tmp_path / "textures", per_class=6)
    models = tmp_path / "models"
    window = open_window(models)
    panel, training = window.train, window.controller.training
    training.take_folder(str(data))
    qtbot.waitUntil(lambda: panel.classes.count() == 2, timeout=TIMEOUT)
    # Long enough (about 0.2 s an epoch here) that the cancel lands mid-run on a loaded machine too.
    _choose(panel, epochs=EPOCHS, size=96)
    qtbot.mouseClick(panel.train, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: training.job is not None and len(training.job.progress.rows) >= 1, timeout=TRAINING)
    # Closing while it trains asks first; "Cancel" keeps the window and the run.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Cancel)
    window.close()
    assert window.isVisible() and training.running
    qtbot.mouseClick(panel.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.resume.isEnabled(), timeout=TRAINING)
    stopped = training.job.progress.rows[-1]["epoch"]
    assert 1 <= stopped < EPOCHS and training.job.checkpoint.is_file()
    assert f"after epoch {stopped}" in panel.status.text()
    assert not (models / "resnet20-textures.onnx").exists()
    qtbot.mouseClick(panel.resume, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: (models / "resnet20-textures-int8.onnx").is_file(), timeout=TRAINING)
    progress = training.job.progress
    assert progress.settings["resumed_from_epoch"] == stopped
    assert [r["epoch"] for r in progress.rows] == list(range(1, EPOCHS + 1))


def test_a_class_of_one_image_is_refused_with_the_reason(open_window, qtbot, tmp_path, monkeypatch):
    window = open_window(tmp_path / "models")
    panel, training = window.train, window.controller.training
    rng = __import__("numpy").random.default_rng(0)
    for name, count in (("dots", 1), ("stripes", 3)):
        monkeypatch.setattr(QInputDialog, "getText", lambda *a, name=name, **k: (name, True))
        qtbot.mouseClick(panel.add_class, Qt.MouseButton.LeftButton)
        images = []
        for i in range(count):
            images.append(tmp_path / f"{name}{i}.png")
            texture(name, rng).save(images[-1])
        drop(panel.classes.viewport(), files(images), at=panel.classes.visualItemRect(_item(panel, name)).center())
        qtbot.waitUntil(lambda name=name, count=count: _item(panel, name).text().startswith(f"{name} — {count} image"),
                        timeout=TIMEOUT)
    assert "✗ dots: 1 image; a class needs at least 2" in panel.class_warnings.text()
    qtbot.mouseClick(panel.train, Qt.MouseButton.LeftButton)
    assert training.job is None
    assert "dots: 1 image; a class needs at least 2" in panel.status.text()
    assert "dots: 1 image" in window.notice.text()


def test_a_folder_that_is_not_one_of_class_folders_says_why_where_it_said_reading(open_window, qtbot, tmp_path):
    window = open_window(tmp_path / "models")
    panel = window.train
    lone = tmp_path / "lone"
    texture_folder(lone, per_class=3)
    shutil.rmtree(lone / "stripes")
    drop(panel.classes.viewport(), files([lone]))
    qtbot.waitUntil(lambda: "found 1" in panel.status.text(), timeout=TIMEOUT)
    assert panel.status.text() == "lone: a training folder holds one subfolder per class; found 1"
    assert panel.classes.count() == 0


def test_a_folder_whose_classes_the_model_lacks_is_refused_with_the_reason(open_window, qtbot, tmp_path, monkeypatch):
    window = open_window(tmp_path / "models")  # the shipped Fashion-MNIST model: no dots, no stripes
    panel = window.train
    folder = texture_folder(tmp_path / "eval", per_class=2)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    qtbot.mouseClick(panel.evaluation.evaluate, Qt.MouseButton.LeftButton)
    reason = f"{folder}: 2 subfolder(s) match no class of the model: dots, stripes"
    qtbot.waitUntil(lambda: panel.status.text() == reason, timeout=TIMEOUT)
    assert window.notice.text() == f"⚠ {reason}" and panel.evaluation.report is None


@pytest.mark.parametrize("name", ["", "stripes", "a/b"])
def test_class_names_that_cannot_be_labels_are_refused(open_window, qtbot, tmp_path, monkeypatch, name):
    window = open_window(tmp_path / "models")
    panel = window.train
    for typed in ("stripes", name):
        monkeypatch.setattr(QInputDialog, "getText", lambda *a, typed=typed, **k: (typed, True))
        qtbot.mouseClick(panel.add_class, Qt.MouseButton.LeftButton)
    assert panel.classes.count() == 1
    assert window.notice.isVisible() and window.notice.text().startswith("⚠")


def test_staged_classes_are_copied_whole(tmp_path):
    from resnet_studio.gui.viewmodel.train_plan import ClassSet

    rng = __import__("numpy").random.default_rng(0)
    classes = ClassSet()
    for name in ("dots", "stripes"):
        classes.add_class(name)
        sources = [tmp_path / name / folder / "1.png" for folder in ("a", "b", "c")]  # one file name, three folders
        for source in sources:
            source.parent.mkdir(parents=True)
            texture(name, rng).save(source)
        assert classes.add_images(name, [str(p) for p in sources]) == 3
        assert classes.add_images(name, [str(sources[0])]) == 0  # already in the class
    staged = classes.stage(tmp_path / "models", "run")
    assert sorted(p.name for p in staged.iterdir()) == ["dots", "stripes"]
    assert all(len(list((staged / name).iterdir())) == 3 for name in ("dots", "stripes"))
    assert not [p for p in Path(tmp_path / "models" / ".training").iterdir() if p.name.startswith(".")]


def test_the_responses_axis_ticks_at_one_two_and_five(qtbot):
    from resnet_studio.gui.qt.widgets.train_charts import TrainCharts

    charts = TrainCharts()
    qtbot.addWidget(charts)
    axis = charts.responses.getAxis("left")
    low, high = math.log10(0.15), math.log10(7)
    values = [v for _, level in axis.tickValues(low, high, 200) for v in level]
    assert sorted({round(10 ** v, 6) for v in values}) == [0.2, 0.5, 1, 2, 5]


def test_a_random_base_warns_and_freezing_it_warns_otherwise(open_window, qtbot, tmp_path):
    window = open_window(tmp_path / "models")
    panel = window.train
    window.tabs.setCurrentWidget(panel)
    _choose(panel, "resnet18", "random")
    assert panel.full.isChecked() and "⚠ Random weights: the network learns from your 0 images" in panel.base_note.text()
    # On the indicator: a radio button takes clicks on its indicator and text, not the whole row.
    qtbot.mouseClick(panel.frozen, Qt.MouseButton.LeftButton, pos=QPoint(8, panel.frozen.height() // 2))
    assert "⚠ A frozen random backbone learns nothing" in panel.base_note.text()
    qtbot.mouseClick(panel.full, Qt.MouseButton.LeftButton, pos=QPoint(8, panel.full.height() // 2))
    assert "frozen" not in panel.base_note.text()
