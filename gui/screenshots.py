"""Screenshots of the real window for the README: ``python -m resnet_studio.gui.screenshots OUT_DIR``.

Run it on an X display (Xvfb is enough). It drives the app through its own widgets and takes each
picture of the whole screen with ImageMagick's ``import``, as a user would see it.
``--compare DIR`` is a folder holding resnet50.onnx and resnext50_32x4d.onnx for the diagram.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--compare", type=Path, required=True)
    p.add_argument("--prefix", default="")
    args = p.parse_args()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from .core.catalog import Catalog, shipped_models_dir
    from .main_window import MainWindow

    app = QApplication([])
    app.setStyle("Fusion")
    settings = QSettings(tempfile.mktemp(suffix=".ini"), QSettings.Format.IniFormat)
    window = MainWindow(Catalog(args.compare), settings, "auto")
    screen = app.primaryScreen().availableGeometry()
    window.setGeometry(screen)
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
    samples = sorted((shipped_models_dir() / "samples").glob("*.png"))
    window.studio.add_paths([str(p) for p in samples] + ["http://example.com/cat.jpg"])
    settle(3)
    window.list.setCurrentRow(1)
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
    window.export_job.stage.connect(lambda precision, stage, done, total: stages.append(stage))
    while "export" not in stages:
        settle(0.1)
    shot("export-progress")
    window.export_job.cancel()
    while window.export_job is not None:
        settle(0.1)
    window.tabs.setCurrentWidget(window.activations)
    window.activations.top_n.setValue(12)
    window.activations.select_block("layer2.2")
    settle(3)
    shot("activations")
    window.studio.load_model(str(args.compare / "resnet50.onnx"))
    settle(4)
    window.structure.compare.setCurrentIndex(window.structure.compare.findData("resnext50_32x4d"))
    window.tabs.setCurrentWidget(window.structure)
    window.structure.view.resetTransform()
    window.structure.view.scale(0.85, 0.85)
    window.structure.view.centerOn(0, 0)
    settle(2)
    shot("structure-compare")
    window.close()


if __name__ == "__main__":
    main()
