"""Screenshots of the real window for the README: ``python -m resnet_studio.gui.qt.screenshots OUT_DIR``.

Run it on an X display (Xvfb is enough). It drives the app through its own widgets and takes each
picture of the whole screen with ImageMagick's ``import``, as a user would see it. The structure
diagrams of the ImageNet variants come from the model registry (a developer tool may import
torch; the app never does), so no large export is needed.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def landscape(path: Path) -> Path:
    """A wide colour picture, far from clothing: sky over grass."""
    rng = np.random.default_rng(4)
    sky = np.linspace([90, 140, 230], [200, 220, 250], 300)[:, None, :].repeat(800, axis=1)
    grass = rng.integers(20, 120, (200, 800, 3)) * np.array([0.4, 1.0, 0.3])
    Image.fromarray(np.concatenate([sky, grass]).astype(np.uint8)).save(path)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--prefix", default="")
    p.add_argument("--train-only", action="store_true", help="only the Train tab's two pictures")
    args = p.parse_args()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from resnet_studio.core.catalog import Catalog, shipped_models_dir
    from .main_window import MainWindow

    app = QApplication([])
    app.setStyle("Fusion")
    work = Path(tempfile.mkdtemp())
    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Catalog(work / "models"), settings, "auto")
    window.setGeometry(app.primaryScreen().availableGeometry())
    window.show()

    def settle(seconds: float) -> None:
        end = time.time() + seconds
        while time.time() < end:
            app.processEvents()
            time.sleep(0.01)

    def shot(name: str) -> None:
        settle(0.5)
        subprocess.run(["import", "-window", "root", str(args.out / f"{args.prefix}{name}.png")], check=True)

    settle(2)
    if args.train_only:
        _train_shots(window, shot, settle, work)
        window.close()
        return
    samples = sorted((shipped_models_dir() / "samples").glob("*.png"))
    window.studio.add_paths([str(landscape(work / "landscape.png"))] + [str(p) for p in samples])
    settle(3)
    window.list.setCurrentRow(0)
    settle(1.5)
    shot("predictions")
    window.picker.open_popup()
    settle(0.5)
    for key in "resnet":
        window.picker.filter.insert(key)
    shot("picker")
    window.picker.popup.hide()
    # An export caught while it runs (what "Export with random weights instead" starts), then cancelled.
    r101 = next(o for o in window.studio.offers if o.variant == "resnet101")
    window.picker.random_requested.emit(r101)
    stages: list[str] = []
    window.actions.export_job.stage.connect(lambda precision, stage, done, total: stages.append(stage))
    while "export" not in stages:
        settle(0.1)
    shot("export-progress")
    window.actions.export_job.cancel()
    while window.actions.export_job is not None:
        settle(0.1)
    window.list.setCurrentRow(3)  # the coat
    panel = window.activations
    window.tabs.setCurrentWidget(panel)
    panel.top_n.setValue(12)
    panel.scale.setCurrentIndex(panel.scale.findData(True))
    panel.select_block("layer2.2")
    settle(3)
    shot("activations")
    panel.mode.setCurrentIndex(panel.mode.findData(True))
    panel.select_block("layer2.0")
    settle(4)
    shot("block-adds")
    _structure_shots(window, shot, settle)
    window.tabs.setCurrentWidget(window.why)
    settle(5)
    shot("why-residual")
    _fig6(window, args.out / f"{args.prefix}why-residual-fig6.png")
    _train_shots(window, shot, settle, work)
    window.close()


def _train_shots(window, shot, settle, work: Path) -> None:
    """The default recipe on two textures: the curves mid-run, then the held-out evaluation."""
    from resnet_studio.core.textures import texture_folder

    training, panel = window.controller.training, window.train
    window.tabs.setCurrentWidget(panel)
    training.take_folder(str(texture_folder(work / "textures", per_class=40, size=96, seed=1)))
    while panel.classes.count() < 2:
        settle(0.1)
    panel.base.setCurrentIndex(0)
    training.train()
    while training.job is None or len(training.job.progress.rows) < 8:
        settle(0.1)
    shot("train-curves")
    while panel.evaluation.report is None:
        settle(0.2)
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    matrix = panel.evaluation.matrix
    QTest.mouseClick(matrix.viewport(), Qt.MouseButton.LeftButton, pos=matrix.visualItemRect(matrix.item(1, 1)).center())
    shot("train-evaluation")


def _structure_shots(window, shot, settle) -> None:
    from resnet_studio.core.architecture import Architecture
    from resnet_studio.models import build_model, describe

    window.tabs.setCurrentWidget(window.structure)
    view = window.structure.view
    for name in ("resnet50", "resnet101"):
        view.show_models((name, Architecture.from_json(describe(build_model(name), 224, variant=name))))
        settle(1)
        if name == "resnet101":
            view.fit()
            view.items["layer3.0.conv2"].setSelected(True)
        shot(f"structure-{name}")
    view.show_models(*((name, Architecture.from_json(describe(build_model(name), 224, variant=name)))
                       for name in ("resnet50", "resnext50_32x4d")))
    settle(1)
    shot("structure-compare")


def _fig6(window, path: Path) -> None:
    """The README's figure after the paper's Fig. 6: the two error plots, side by side."""
    from PySide6.QtGui import QColor, QPainter, QPixmap

    left, right = window.why.plain_plot.grab(), window.why.residual_plot.grab()
    figure = QPixmap(left.width() + right.width(), max(left.height(), right.height()))
    figure.fill(QColor("white"))
    painter = QPainter(figure)
    painter.drawPixmap(0, 0, left)
    painter.drawPixmap(left.width(), 0, right)
    painter.end()
    figure.save(str(path))


if __name__ == "__main__":
    main()
