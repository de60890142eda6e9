"""Measure the app as a user feels it: time to a shown window, and the longest event-loop stall
while images are classified.

``python -m resnet_studio.gui.qt.app_timing --model PATH [--images 100]``; runs offscreen unless
QT_QPA_PLATFORM is set. Import time counts: the clock starts before PySide6 is imported.
``--choose VARIANT`` instead times picking a variant that is not exported yet (random weights):
from the choice to the first image classified again by it, export and verification included.
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


def time_app(model: str, device: str, count: int) -> dict:
    """The app's path: photos dropped on Studio (the window's state), offscreen, until the last result."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    from resnet_studio.core.catalog import Catalog
    from resnet_studio.core.timing import photo_jpegs, steady_state

    from .state import Studio

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        photos = [str(p) for p in photo_jpegs(Path(folder), count)]
        studio = Studio(Catalog(), device)
        loop = QEventLoop()
        studio.model_changed.connect(lambda _: loop.quit())
        studio.model_failed.connect(lambda reason: loop.exit(1))
        studio.load_model(model)
        if loop.exec():
            return {"error": "the model did not load"}
        studio.queue_changed.connect(lambda done, total: loop.quit() if total and done == total else None)
        passes = []
        for chosen in (photos, photos, photos * 3):  # the first pass warms the session up
            studio.clear()
            started = time.perf_counter()
            studio.add_paths(chosen)
            loop.exec()
            passes.append({"latency_ms": (time.perf_counter() - started) * 1000, "runs": 1})
        app.processEvents()
    return steady_state(passes[1], passes[2], count, 3 * count)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model")
    p.add_argument("--choose", help="a registry variant to export from the picker, with random weights")
    p.add_argument("--images", type=int, default=100)
    p.add_argument("--size", type=int, default=640, help="side of the generated JPEGs")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--steady", type=int, metavar="N",
                   help="time N photos and 3N photos dropped on the app's state, and print the steady-state figures")
    args = p.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.steady:
        print(json.dumps(time_app(args.model, args.device, args.steady)))
        return

    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from resnet_studio.core.catalog import Catalog
    from .main_window import MainWindow

    app = QApplication([])
    folder = tempfile.TemporaryDirectory()
    settings = QSettings(str(Path(folder.name) / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Catalog(Path(folder.name) / "models"), settings, "auto", args.model)
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

    done = lambda: all(e.result or e.error for e in window.studio.entries.values())  # noqa: E731
    gaps: list[float] = []
    clock = QElapsedTimer()
    ticker = QTimer(interval=5)
    ticker.timeout.connect(lambda: (gaps.append(clock.restart())))

    def timed(action, finished) -> float:
        """Seconds from ``action()`` until ``finished()``, in Qt's own event loop as the app runs it, with
        the loop's gaps recorded meanwhile (a Python polling loop would add GIL waits of its own)."""
        loop = QEventLoop()
        check = QTimer(interval=5)
        check.timeout.connect(lambda: loop.quit() if finished() else None)
        QTimer.singleShot(600_000, loop.quit)
        clock.start()
        ticker.start()
        check.start()
        started = time.perf_counter()
        action()
        loop.exec()
        ticker.stop()
        check.stop()
        if not finished():
            sys.exit("measure: gave up after 600 s")
        return time.perf_counter() - started

    if args.choose:
        window.studio.add_paths(paths)
        while not done():
            app.processEvents()
        offer = next(o for o in window.studio.offers if o.variant == args.choose and not o.exported)
        # An ImageNet variant goes through "Export with random weights instead": no download here.
        signal = window.picker.random_requested if offer.weights == "imagenet" else window.picker.chosen
        elapsed = timed(lambda: signal.emit(offer),
                        lambda: any(e.result and e.result.model.startswith(args.choose)
                                    for e in window.studio.entries.values()))
        window.close()
        print(json.dumps({"variant": args.choose, "weights": "random", "choice_to_first_result_s": round(elapsed, 2),
                          "longest_stall_ms": max(gaps), "p99_tick_ms": sorted(gaps)[int(len(gaps) * 0.99)],
                          "torch_imported": "torch" in sys.modules}, indent=2))
        folder.cleanup()
        return
    elapsed = timed(lambda: window.studio.add_paths(paths), done)
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
