"""Measure the app as a user feels it: time to a shown window, and the longest event-loop stall
while images are classified.

``python -m resnet_studio.gui.measure --model PATH [--images 100]``; runs offscreen unless
QT_QPA_PLATFORM is set. Import time counts: the clock starts before PySide6 is imported.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", required=True)
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--size", type=int, default=640, help="side of the generated JPEGs")
    args = p.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from .core.catalog import Catalog
    from .main_window import MainWindow

    app = QApplication([])
    folder = tempfile.TemporaryDirectory()
    settings = QSettings(str(Path(folder.name) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Catalog(folder.name), settings, "auto", args.model)
    window.show()
    app.processEvents()
    shown = time.perf_counter() - STARTED
    while window.studio.info is None:
        app.processEvents()
        time.sleep(0.005)
    model_ready = time.perf_counter() - STARTED

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(args.images):
        path = Path(folder.name) / f"img{i:04d}.jpg"
        Image.fromarray(rng.integers(0, 255, (args.size, args.size, 3), dtype=np.uint8)).save(path, quality=85)
        paths.append(str(path))

    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    ticker = QTimer(interval=5)
    ticker.timeout.connect(lambda: (gaps.append(clock.restart())))
    ticker.start()
    started = time.perf_counter()
    window.studio.add_paths(paths)
    done = lambda: all(e.result or e.error for e in window.studio.entries.values())  # noqa: E731
    while not done():
        app.processEvents()
        time.sleep(0.001)
    elapsed = time.perf_counter() - started
    ticker.stop()
    window.close()
    report = {
        "model": window.studio.info.name, "provider": window.studio.handle.provider,
        "window_shown_s": round(shown, 3), "model_ready_s": round(model_ready, 3),
        "images": args.images, "classify_s": round(elapsed, 2), "images_per_second": round(args.images / elapsed, 1),
        "longest_stall_ms": max(gaps) if gaps else None,
        "p99_tick_ms": sorted(gaps)[int(len(gaps) * 0.99)] if gaps else None,
        "torch_imported": "torch" in sys.modules,
    }
    print(json.dumps(report, indent=2))
    folder.cleanup()


if __name__ == "__main__":
    main()
