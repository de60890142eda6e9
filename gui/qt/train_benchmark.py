"""The training figures the README gives, measured on this machine: ``python -m resnet_studio.gui.qt.train_benchmark``.

1. Fine-tuning time per epoch of resnet18 on 100 images at 64 and 224 px, backbone frozen and not
   (the second epoch's time from the child's own report: the first one warms up).
2. The app's event-loop stall while it trains: the longest gap between 10 ms timer ticks, the window open
   on the Train tab, from Train until the model has landed.
3. Held-out accuracy of the panel's default recipe on a two-class texture set (stripes and dots), and of
   ``train resnet18 --data`` with its defaults at 64 px for 6 epochs from random weights, the small-data case
   where a fixed batch of 128 made one step an epoch and stayed at chance.

Training runs as the app runs it: ``resnet-studio train --progress-json`` in a child process.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from resnet_studio.core import children
from resnet_studio.core.evaluation import wilson
from resnet_studio.core.textures import texture_folder


def _events(*args: str) -> list[dict]:
    done = children.run("studio", "train", *args, "--progress-json", timeout=3600)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0:
        raise SystemExit(f"train {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return events


def epoch_times(folder: Path, work: Path, threads: int) -> list[dict]:
    rows = []
    for size in (64, 224):
        for frozen in (True, False):
            events = _events("resnet18", "--data", str(folder), "--image-size", str(size), "--epochs", "2",
                             "--threads", str(threads), "--output", str(work / f"epochs-{size}-{frozen}"),
                             *(["--freeze-backbone"] if frozen else []))
            start = events[0]
            epochs = [e for e in events if e["stage"] == "epoch"]
            rows.append({"size": size, "frozen": frozen, "train_images": start["train_images"],
                         "batch": start["batch_size"], "second_epoch_s": round(epochs[1]["seconds"] - epochs[0]["seconds"], 2)})
    return rows


def stall(folder: Path, work: Path) -> dict:
    """Open the window, train resnet18 (random weights, 64 px, 3 epochs) from the panel, time the ticks."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from resnet_studio.core.catalog import Catalog

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(Catalog(work / "models"), QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    window.show()
    window.tabs.setCurrentWidget(window.train)
    training, gaps, last = window.controller.training, [], [0.0]
    training.take_folder(str(folder))

    def tick() -> None:
        now = time.perf_counter()
        if training.running:
            gaps.append(now - last[0])
        last[0] = now

    def start() -> None:
        panel = window.train
        panel.base.setCurrentIndex(next(i for i, b in enumerate(panel._bases) if b.variant == "resnet18" and b.kind == "random"))
        panel.epochs.setValue(3)
        panel.image_size.setValue(64)
        training.train()

    timer = QTimer(interval=10, timeout=tick)
    timer.start()
    QTimer.singleShot(3000, start)
    training.landed.connect(lambda *_: QTimer.singleShot(500, app.quit))
    training.notice.connect(lambda text: print(text, flush=True))
    app.exec()
    window.close()
    gaps.sort()
    return {"ticks": len(gaps), "worst_gap_ms": round(1000 * gaps[-1], 1) if gaps else None,
            "p99_gap_ms": round(1000 * gaps[int(0.99 * (len(gaps) - 1))], 1) if gaps else None}


def default_recipe(folder: Path, work: Path) -> dict:
    from resnet_studio.core.catalog import Catalog
    from resnet_studio.gui.viewmodel.lineup import offers
    from resnet_studio.gui.viewmodel.train_plan import Recipe, bases, train_arguments

    base = bases(offers(Catalog(work / "models")))[0]
    recipe = Recipe(base.epochs, base.image_size, base.freeze)
    arguments = [a for a in train_arguments(base, recipe, folder, work / "recipe", work / "recipe.onnx", False)[1:]
                 if a != "--progress-json"]
    started = time.perf_counter()
    report = _events(*arguments)[-1]["report"]
    correct = round(report["accuracy"] * report["images"])
    return {"base": base.title, "epochs": recipe.epochs, "image_size": recipe.image_size,
            "held_out_images": report["images"], "held_out_accuracy": report["accuracy"],
            "interval": [round(v, 3) for v in wilson(correct, report["images"])],
            "seconds_with_export": round(time.perf_counter() - started, 1)}


def small_data_defaults(folder: Path, work: Path) -> dict:
    events = _events("resnet18", "--data", str(folder), "--image-size", "64", "--epochs", "6",
                     "--output", str(work / "small"))
    report = events[-1]["report"]
    return {"batch": events[0]["batch_size"], "steps_per_epoch": events[0]["steps_per_epoch"],
            "held_out_images": report["images"], "held_out_accuracy": report["accuracy"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2, help="training threads (2: the CI machine's cores)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        hundred = texture_folder(work / "hundred", per_class=50, size=256)
        print(json.dumps({"epoch_seconds": epoch_times(hundred, work, args.threads)}), flush=True)
        textures = texture_folder(work / "textures", per_class=40, size=96, seed=1)
        print(json.dumps({"default_recipe": default_recipe(textures, work)}), flush=True)
        print(json.dumps({"small_data_defaults": small_data_defaults(textures, work)}), flush=True)
        print(json.dumps({"event_loop": stall(textures, work)}), flush=True)


if __name__ == "__main__":
    main()
