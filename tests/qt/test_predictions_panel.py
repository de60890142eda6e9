"""What the model sees, saving what you see, activations you can read, and a window that fits."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QToolButton
from qt_events import action, answer_save_dialog, drop, files, hover
from resnet_studio.core import report
from resnet_studio.core.catalog import shipped_models_dir
from resnet_studio.gui.viewmodel.colormap import VIRIDIS
from runners import all_done, cpu_provider

TIMEOUT = 60_000


FASHION = shipped_models_dir() / "resnet20-fashion-mnist.onnx"


@pytest.fixture
def landscape(tmp_path):
    """A wide colour photograph-like image: the Fashion-MNIST model sees only its centre square, in grey."""
    rng = np.random.default_rng(4)
    sky = np.linspace([90, 140, 230], [200, 220, 250], 60)[:, None, :].repeat(160, axis=1)
    ground = rng.integers(20, 120, (40, 160, 3)) * np.array([0.4, 1.0, 0.3])
    path = tmp_path / "landscape.png"
    Image.fromarray(np.concatenate([sky, ground]).astype(np.uint8)).save(path)
    return path


def test_the_exact_model_input_and_its_crop_are_shown(qtbot, open_window, tmp_path, landscape):
    window = open_window(tmp_path / "user", FASHION)
    drop(window, files([landscape]))
    qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    window.list.setCurrentRow(0)
    view = window.input_view
    qtbot.waitUntil(lambda: view.model_input.pixmap() is not None and not view.model_input.pixmap().isNull(),
                    timeout=TIMEOUT)
    assert "28×28 greyscale" in view.input_note.text() and "6× enlarged" in view.input_note.text()
    assert "dashed box" in view.crop_note.text()
    picture = view.model_input.pixmap().toImage()
    # Greyscale: every pixel of what the model got has R = G = B.
    pixels = [picture.pixelColor(x, y) for x in range(0, picture.width(), 7) for y in range(0, picture.height(), 7)]
    assert all(c.red() == c.green() == c.blue() for c in pixels)
    # The crop of a 160x100 image: the centre 100x100, outlined on the picture shown.
    shown = view.original.pixmap().toImage()
    assert shown.width() > 100
    # The warning sits on the picture itself: an out-of-distribution colour landscape.
    assert window.studio.entries[1].result.out_of_distribution
    top_left = shown.pixelColor(3, 3)
    assert (top_left.red(), top_left.green(), top_left.blue()) == (255, 244, 229) or top_left.red() > 240


def test_results_export_to_csv_and_json_and_read_back(qtbot, open_window, tmp_path, landscape, monkeypatch):
    window = open_window(tmp_path / "user", FASHION)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    samples = sorted((shipped_models_dir() / "samples").glob("*.png"))[:2]
    drop(window, files([*samples, landscape, broken]))
    qtbot.waitUntil(lambda: len(window.studio.entries) == 4 and all_done(window), timeout=TIMEOUT)
    expected = [report.record(r) for r in window.studio.results()]
    assert len(expected) == 4
    for suffix in ("csv", "json"):
        target = tmp_path / f"results.{suffix}"
        answer_save_dialog(monkeypatch, target)
        action(window, "Export results…").trigger()  # as File → Export results and Ctrl+E do
        back = report.read(target)
        assert back == json.loads(json.dumps(expected))
    by_path = {r["path"]: r for r in back}
    assert by_path[str(landscape)]["out_of_distribution"] is True
    assert by_path[str(samples[0])]["out_of_distribution"] is False
    assert by_path[str(broken)]["error"] and by_path[str(broken)]["top_k"] == []
    first = by_path[str(samples[0])]
    assert first["model"] == "resnet20-fashion-mnist" and first["precision"] == window.studio.info.precision
    assert first["provider"] == cpu_provider() and len(first["top_k"]) == 5
    assert "exported 4 result(s)" in window.status_line.message
    # An unwritable place is a notice, and nothing else happens.
    answer_save_dialog(monkeypatch, tmp_path / "missing" / "results.csv")
    action(window, "Export results…").trigger()
    assert "cannot write" in window.notice.text()


def test_activations_legend_scales_clicks_and_saving(qtbot, open_window, tmp_path, landscape):
    window = open_window(tmp_path / "user", FASHION)
    panel = window.activations
    assert panel.hint.text().startswith("Select an image")
    drop(window, files([shipped_models_dir() / "samples" / "bag-test18.png"]))
    qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    window.list.setCurrentRow(0)
    window.tabs.setCurrentWidget(panel)
    panel.top_n.setValue(8)
    panel.select_block("layer3.2")
    qtbot.waitUntil(lambda: panel._maps is not None and panel._maps.block == "layer3.2"
                    and panel.grid.count() == 8, timeout=TIMEOUT)
    assert not panel.hint.isVisible()
    maps = panel._maps

    # The legend renders: the strip runs from viridis' first colour to its last, the ends are labelled.
    panel.scale.setCurrentIndex(panel.scale.findData(True))
    strip = panel.legend.strip.grab().toImage()
    left, right = strip.pixelColor(1, strip.height() // 2), strip.pixelColor(strip.width() - 2, strip.height() // 2)
    assert np.abs(np.array([left.red(), left.green(), left.blue()]) - VIRIDIS[0]).max() <= 12
    assert np.abs(np.array([right.red(), right.green(), right.blue()]) - VIRIDIS[255]).max() <= 12
    assert panel.legend.low.text() == f"{maps.values.min():.3g}"
    assert panel.legend.high.text() == f"{maps.values.max():.3g}"
    panel.scale.setCurrentIndex(panel.scale.findData(False))
    assert panel.legend.low.text() == "min" and "its own range" in panel.legend.note.text()

    # Weakest first finds the quiet channels.
    panel.order.setCurrentIndex(panel.order.findData(True))
    qtbot.waitUntil(lambda: panel._maps is not maps and "weakest" in panel.grid_box.title(), timeout=TIMEOUT)
    assert panel._maps.means == sorted(panel._maps.means)

    # Click a channel: it opens enlarged.
    tile = panel.grid.itemAt(0).widget()
    qtbot.mouseClick(tile, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    assert panel.channel_dialog.isVisible() and f"channel {tile.channel}" in panel.channel_dialog.windowTitle()
    panel.channel_dialog.over_input.setChecked(True)
    assert panel.channel_dialog.picture.pixmap().width() > 300
    # From the keyboard: Tab reaches a tile, Return opens it.
    panel.channel_dialog.hide()
    second = panel.grid.itemAt(1).widget()
    second.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(second, Qt.Key.Key_Return)
    assert panel.channel_dialog.isVisible() and f"channel {second.channel}" in panel.channel_dialog.windowTitle()
    panel.channel_dialog.hide()

    # The CAM names its class with the probability, and says the whole image is seen here (28 px square).
    qtbot.waitUntil(lambda: "%" in panel.cam_box.title(), timeout=TIMEOUT)
    best = window.studio.entries[1].result.predictions[0]
    assert panel.cam_box.title() == f"Class activation map · {best.label} ({best.percent})"
    assert panel.cam_note.text().startswith("The model sees the whole image.")

    panel.save_grid(str(tmp_path / "grid.png"))
    panel.save_cam(str(tmp_path / "cam.png"))
    grid = QImage(str(tmp_path / "grid.png"))
    assert grid.width() * grid.height() >= 8 * 96 * 96
    assert not QImage(str(tmp_path / "cam.png")).isNull()
    assert not list(tmp_path.glob(".*png*")), "no temp files left"

    # A model switch clears the old maps and CAM at once.
    window.studio.load_model(str(shipped_models_dir() / "resnext29-fashion-mnist.onnx"))
    qtbot.waitUntil(lambda: window.studio.info.name == "resnext29-fashion-mnist", timeout=TIMEOUT)
    assert panel._maps is None or panel._maps.block in ["stem", *window.studio.info.taps.blocks()]
    assert panel.cam_box.title() == "Class activation map" or "%" in panel.cam_box.title()


def test_a_model_switch_clears_the_maps_before_anything_new_arrives(qtbot, open_window, tmp_path):
    window = open_window(tmp_path / "user", FASHION)
    panel = window.activations
    drop(window, files([shipped_models_dir() / "samples" / "bag-test18.png"]))
    qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    window.list.setCurrentRow(0)
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: panel.grid.count() > 0 and "%" in panel.cam_box.title(), timeout=TIMEOUT)
    info = window.studio.info
    window.studio.model_changed.emit(info)  # the switch itself, before any new result
    assert panel.grid.count() == 0 and panel.cam_view.pixmap().isNull()
    assert panel.cam_box.title() == "Class activation map" and panel.hint.isVisible()


def test_the_structure_diagram_saves_as_png_and_svg(open_window, tmp_path):
    window = open_window(tmp_path / "user", FASHION)
    window.structure.view.save(str(tmp_path / "structure.png"))
    window.structure.view.save(str(tmp_path / "structure.svg"))
    image = QImage(str(tmp_path / "structure.png"))
    assert image.width() > 400 and image.height() > 400
    svg = (tmp_path / "structure.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "layer3.0" in svg and "⊕ ReLU" in svg and "layer3.1–2 ×2, identical" in svg


def test_long_status_messages_are_elided_with_the_whole_text_in_a_tooltip(open_window, tmp_path):
    window = open_window(tmp_path / "user", FASHION)
    line = window.status_line
    text = "exported " + ", ".join(f"model-{i}.onnx" for i in range(200))
    line.show_message(text)
    assert text.startswith(line.message.rstrip("…")) and "…" in line.text()
    assert line.fontMetrics().horizontalAdvance(line.text()) <= line.width()
    assert "model-3.onnx" in line.toolTip()
    # Rich text in a message stays text.
    line.show_message("<img src='/etc/passwd'>")
    assert line.textFormat() == Qt.TextFormat.PlainText and "&lt;img" in line.toolTip()


def test_a_busy_bar_shows_while_a_model_loads_and_the_picker_waits(qtbot, open_window, tmp_path):
    window = open_window(tmp_path / "user", FASHION)
    before = window.picker.button.text()
    panels = window.tabs.geometry()
    window.studio.load_model(str(shipped_models_dir() / "resnext29-fashion-mnist.onnx"))
    assert window.busy.isVisible() and "resnext29-fashion-mnist" in window.busy.label.text()
    QApplication.processEvents()
    assert window.tabs.geometry() == panels  # the busy bar sits in the status bar: nothing moves
    assert window.picker.button.text() == before  # not claimed until it is active
    qtbot.waitUntil(lambda: window.studio.info.name == "resnext29-fashion-mnist", timeout=TIMEOUT)
    assert not window.busy.isVisible() and window.picker.button.text().startswith("resnext29")


SCREEN_CHECK = textwrap.dedent("""
    import json, sys, tempfile
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from resnet_studio.core.catalog import Catalog
    from resnet_studio.gui.qt.main_window import MainWindow
    folder = tempfile.mkdtemp()
    window = MainWindow(Catalog(folder), QSettings(folder + "/s.ini", QSettings.Format.IniFormat), "cpu")
    window.show()
    app.processEvents()
    screen = window.screen()
    fits = screen.availableGeometry().contains(window.frameGeometry())
    picker_shown = window.picker.isVisible()
    window.resize(1024, 700)
    app.processEvents()
    narrow_picker = window.picker.isVisible() and window.picker.width() > 100
    print(json.dumps({"fits": fits, "picker": picker_shown, "narrow_picker": narrow_picker,
                      "dpr": screen.devicePixelRatio(), "size": [window.width(), window.height()],
                      "statusbar_bottom": window.statusBar().geometry().bottom() + window.geometry().top()}))
    window.studio.shutdown()
""")


@pytest.mark.parametrize("dpr", [1, 2])
def test_the_first_window_fits_a_1366x768_screen(tmp_path, dpr):
    config = tmp_path / "screen.json"
    config.write_text(json.dumps({"windowFrameMargins": True, "screens": [
        {"name": "laptop", "x": 0, "y": 0, "width": 1366, "height": 768, "logicalDpi": 96, "dpr": dpr}]}))
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    done = subprocess.run([sys.executable, "-c", SCREEN_CHECK], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["dpr"] == dpr
    assert seen["fits"] and seen["statusbar_bottom"] <= 768, seen
    assert seen["picker"] and seen["narrow_picker"], seen


@pytest.mark.slow  # an OOD fit in the child: 15 s
def test_an_imported_model_gets_its_warning_fitted_to_a_folder_from_the_picker(qtbot, open_window, tmp_path):
    """What is honest for ImageNet exports: a warning fitted to the user's own typical images."""
    from resnet_studio.core.model_file import read_model
    from resnet_studio.export.api import export, prepare

    models = tmp_path / "models"
    models.mkdir()
    export(prepare("resnet18", image_size=64), models / "resnet18-small.onnx")
    typical = tmp_path / "skies"
    typical.mkdir()
    rng = np.random.default_rng(6)
    for i in range(70):
        top, bottom = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
        Image.fromarray(np.linspace(top, bottom, 64)[:, None, :].repeat(64, axis=1).astype(np.uint8)).save(
            typical / f"{i:02d}.png")
    window = open_window(models, models / "resnet18-small.onnx")
    assert window.studio.info.ood is None
    offer = window.studio.current_offer()
    texts = [a.text() for a in window.picker.actions_for(offer, window)]
    assert any("warning to a folder" in t for t in texts)
    few = tmp_path / "few"
    few.mkdir()
    window.actions.calibrate(offer, str(few))
    assert "needs 64 or more" in window.notice.text() and window.actions.calibrate_job is None
    window.actions.calibrate(offer, str(typical))
    assert window.busy.isVisible()
    qtbot.waitUntil(lambda: window.actions.calibrate_job is None, timeout=120_000)
    qtbot.waitUntil(lambda: window.studio.info.ood is not None, timeout=60_000)
    assert window.studio.info.ood.description == "images like those in skies"
    assert read_model(models / "resnet18-small.onnx").ood.means.shape[0] == 1
    assert not window.busy.isVisible()



def test_the_cam_has_a_legend_a_shared_scale_a_searchable_class_list_and_saves_large_and_named(
        qtbot, open_window, tmp_path, landscape, monkeypatch):
    window = open_window(tmp_path / "user", FASHION)
    panel = window.activations
    drop(window, files([landscape]))
    qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    window.list.setCurrentRow(0)
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: "%" in panel.cam_box.title(), timeout=TIMEOUT)
    result = window.studio.entries[1].result

    # The image's five most likely classes head the list, with their probabilities, as the predictions show them.
    combo = panel.cam_class
    tops = [combo.itemText(i) for i in range(1, 6)]
    assert tops == [f"★ {p.index}: {p.label} · {p.percent}" for p in result.predictions[:5]]
    # Typing any part of a name finds the class.
    combo.lineEdit().clear()
    qtbot.keyClicks(combo.lineEdit(), "boot")
    completer = combo.completer()
    found = {completer.completionModel().index(i, 0).data() for i in range(completer.completionCount())}
    assert found and all("boot" in text.lower() for text in found)
    assert any(text.startswith("9: Ankle boot") for text in found)

    # The legend says what brightest is; on one scale for every class, an unlikely class stays dim.
    assert panel.cam_legend.low.text() == "0" and "own peak" in panel.cam_note.text()
    info, least = window.studio.info, result.predictions[-1].index
    combo.setCurrentIndex(combo.findData(least))
    qtbot.waitUntil(lambda: f"· {info.labels[least]} (" in panel.cam_box.title(), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: panel._cam is not None and panel._cam.max() > 0.9, timeout=TIMEOUT)  # its own peak
    own = panel._cam
    panel.cam_scale.setCurrentIndex(panel.cam_scale.findData(True))
    qtbot.waitUntil(lambda: "any class" in panel.cam_note.text(), timeout=TIMEOUT)
    assert panel._cam.max() < 0.9 * own.max() and np.allclose(panel._cam / panel._cam.max(), own / own.max(), atol=1e-3)
    assert float(panel.cam_legend.high.text()) > 0

    # The crop box is drawn at the size shown, over pixels enlarged as they are: no blur on a small image.
    picture = panel.cam_picture(400, 400).toImage()
    factor = picture.width() // panel._image.shape[1]
    assert factor >= 2 and picture.pixelColor(0, 0) == picture.pixelColor(factor - 1, factor - 1)

    # Saved at least 512 px on its longer side, under a name with the model, the block and the class.
    asked = answer_save_dialog(monkeypatch, tmp_path / "saved.png")
    panel.save_cam_button.click()
    saved = QImage(str(tmp_path / "saved.png"))
    assert max(saved.width(), saved.height()) >= 512
    label = window.studio.info.labels[least].replace(" ", "-").replace("/", "-")
    assert asked[0][1].endswith(f"resnet20-fashion-mnist-layer3.2-cam-{label}.png"), asked

    # Score-CAM maps the block chosen on the left, with forward passes only.
    panel.cam_method.setCurrentIndex(panel.cam_method.findData("score-cam"))
    panel.select_block("layer2.1")
    qtbot.waitUntil(lambda: panel.cam_box.title().startswith("Score-CAM · layer2.1 · "), timeout=TIMEOUT)
    assert np.isfinite(panel._cam).all() and panel._cam.max() > 0 and not panel.cam_scale.isEnabled()


def test_the_image_list_sums_up_filters_and_keeps_its_rows_and_width(qtbot, open_window, tmp_path, landscape):
    window = open_window(tmp_path / "user", FASHION)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    samples = sorted((shipped_models_dir() / "samples").glob("*.png"))[:2]
    header = window.list.header
    assert header.text.text().startswith("No images yet")
    drop(window, files([*samples, landscape, broken]))
    qtbot.waitUntil(lambda: len(window.studio.entries) == 4 and all_done(window), timeout=TIMEOUT)
    qtbot.waitUntil(lambda: header.text.text().startswith("4 images"), timeout=5000)
    assert header.text.text() == "4 images · 1 flagged · 1 failed · from 2 folders"
    heights = {window.list.visualItemRect(window.list.item(i)).height() for i in range(4)}
    assert len(heights) == 1  # thumbnails in or not, a failure or a class: one row height

    # "flagged only", chosen from the keyboard as a user would: only the landscape stays.
    header.filter.setFocus()
    qtbot.keyClick(header.filter, Qt.Key.Key_Down)
    assert header.filter.currentText() == "flagged only (unlike the training data)"
    shown_rows = [window.list.item(i).text() for i in range(4) if not window.list.item(i).isHidden()]
    assert len(shown_rows) == 1 and shown_rows[0].startswith(landscape.name) and "⚠" in shown_rows[0]
    assert header.text.text().endswith("3 hidden by the filter")
    qtbot.keyClick(header.filter, Qt.Key.Key_Down)
    shown_rows = [window.list.item(i).text() for i in range(4) if not window.list.item(i).isHidden()]
    assert len(shown_rows) == 1 and shown_rows[0].startswith("broken.png")

    # Dragged as far as the splitter goes, the list keeps room for its text.
    window.splitter.setSizes([0, 5000])
    assert window.list.width() >= 190


def test_file_dialogs_open_where_the_last_one_was_used(qtbot, open_window, tmp_path, monkeypatch):
    window = open_window(tmp_path / "user", FASHION)
    drop(window, files(sorted((shipped_models_dir() / "samples").glob("*.png"))[:1]))
    qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    elsewhere = tmp_path / "reports"
    elsewhere.mkdir()
    asked = answer_save_dialog(monkeypatch, elsewhere / "first.csv")
    action(window, "Export results…").trigger()
    assert asked[0][1].endswith("results-resnet20-fashion-mnist-1-images.csv")
    window.tabs.setCurrentWidget(window.structure)
    asked = answer_save_dialog(monkeypatch, elsewhere / "diagram.svg")
    next(b for b in window.structure.findChildren(QToolButton) if b.text() == "Save…").click()
    assert asked[0][1] == str(elsewhere / "structure-resnet20-fashion-mnist-resnet20-fp32.svg")
    assert (elsewhere / "diagram.svg").stat().st_size > 1000


def test_tab_shows_a_focus_ring(qtbot, open_window, tmp_path):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QComboBox, QPushButton, QToolButton

    window = open_window(tmp_path / "user", FASHION)
    window.activateWindow()
    highlight = window.palette().color(QPalette.ColorRole.Highlight)

    def ring_pixels(widget) -> int:
        image = widget.grab().toImage()
        return sum(1 for x in range(image.width()) for y in (1, 2, image.height() - 2, image.height() - 3)
                   if abs(image.pixelColor(x, y).blue() - highlight.blue()) < 40
                   and abs(image.pixelColor(x, y).red() - highlight.red()) < 40)

    seen = set()
    for _ in range(40):  # Tab through the window: every button and list it reaches is ringed
        qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Tab)
        widget = QApplication.focusWidget()
        if isinstance(widget, (QPushButton, QToolButton, QComboBox)) and widget.isVisible():
            assert ring_pixels(widget) > widget.width() // 2, type(widget).__name__
            seen.add(type(widget).__name__)
    assert {"QComboBox", "QPushButton"} <= seen, seen
    window.list.setFocus(Qt.FocusReason.MouseFocusReason)
    assert all(ring_pixels(w) == 0 for w in window.findChildren(QComboBox) if w.isVisible())  # only the focused


def test_removing_a_block_reclassifies_every_image_against_the_whole_network(qtbot, open_window, tmp_path):
    window = open_window(tmp_path / "user", FASHION)
    samples = sorted((shipped_models_dir() / "samples").glob("*.png"))[:4]
    drop(window, files(samples))
    qtbot.waitUntil(lambda: len(window.studio.entries) == 4 and all_done(window), timeout=TIMEOUT)
    intact = {e.id: e.result for e in window.studio.entries.values()}
    panel = window.activations
    window.tabs.setCurrentWidget(panel)
    window.list.setCurrentRow(0)
    panel.select_block("stem")
    assert not panel.remove_button.isEnabled() and "cannot be removed" in panel.remove_button.toolTip()
    panel.select_block("layer1.0")
    assert panel.remove_button.text() == "Remove layer1.0" and not panel.restore_button.isEnabled()
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.studio.removed == {"layer1.0"} and all_done(window)
                    and all("✂" in window.list.item(i).text() for i in range(4)), timeout=TIMEOUT)
    entries = list(window.studio.entries.values())
    assert [e.intact for e in entries] == [intact[e.id] for e in entries]
    assert any(e.result.predictions != e.intact.predictions for e in entries)  # layer1.0 matters here
    # The out-of-distribution fit is the whole network's: a lesioned one is not judged by it.
    assert all(e.result.out_of_distribution is None for e in entries)
    note = window.predictions.lesion
    assert not note.isHidden() and note.text().startswith("✂ Without layer1.0 — intact: ")
    assert panel.remove_button.text() == "Put layer1.0 back" and panel.restore_button.text() == "Restore all (1 out)"
    panel.select_block("layer3.2")
    qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)  # two out together
    qtbot.waitUntil(lambda: window.studio.removed == {"layer1.0", "layer3.2"} and all_done(window), timeout=TIMEOUT)
    qtbot.mouseClick(panel.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.studio.removed and all_done(window)
                    and all("%" in window.list.item(i).text() and "✂" not in window.list.item(i).text()
                            for i in range(4)), timeout=TIMEOUT)
    for entry in window.studio.entries.values():  # bit for bit, as before (the timings aside)
        assert entry.result.predictions == intact[entry.id].predictions
        assert entry.result.ood_score == intact[entry.id].ood_score
    assert note.isHidden()


def test_the_mouse_over_a_map_tells_its_value_position_and_receptive_field(qtbot, open_window, tmp_path):
    window = open_window(tmp_path / "user", FASHION)
    drop(window, files([shipped_models_dir() / "samples" / "bag-test18.png"]))
    qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    window.list.setCurrentRow(0)
    panel = window.activations
    window.tabs.setCurrentWidget(panel)
    panel.select_block("layer2.1")  # 32×14×14, stride 2 from the 28-px input
    qtbot.waitUntil(lambda: panel._maps is not None and panel._maps.block == "layer2.1" and panel.grid.count() > 0,
                    timeout=TIMEOUT)
    tile = panel.grid.itemAt(0).widget()
    picture = tile.picture
    step = picture.pixmap().width() / 14
    hover(picture, QPoint(int(step * 3.5), int(step * 5.5)))  # row 5, column 3
    qtbot.waitUntil(lambda: picture.hover_text != "", timeout=5000)
    value = panel._maps.values[0][5, 3]
    assert picture.hover_text.startswith(f"layer2.1 ch {tile.channel}, row 5, column 3: {value:.3g}")
    assert "sees input rows " in picture.hover_text and "receptive field" in picture.hover_text

    panel.mode.setCurrentIndex(panel.mode.findData(True))  # F(x), x, shortcut and output cells tell theirs too
    qtbot.waitUntil(lambda: panel.adds.grid.count() > 30, timeout=TIMEOUT)
    cell = panel.adds.grid.itemAtPosition(1, 1).widget()
    hover(cell, QPoint(cell.width() - 2, 2))  # the last column
    qtbot.waitUntil(lambda: cell.hover_text.startswith("layer2.1 F(x), ch "), timeout=5000)
    row, column = cell.cell_at(cell.width() - 2, 2)
    assert column == 13 and f", row {row}, column 13: {cell.values[row, 13]:.3g}" in cell.hover_text
