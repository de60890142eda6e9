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


class LoopTimer:
    """Times actions in Qt's own event loop as the app runs it, recording the loop's gaps meanwhile (a
    Python polling loop would add GIL waits of its own)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.gaps: list[float] = []
        self.clock = QElapsedTimer()
        self.ticker = QTimer(interval=5)
        self.ticker.timeout.connect(lambda: self.gaps.append(self.clock.restart()))

    def timed(self, action, finished) -> float:
        """Seconds from ``action()`` until ``finished()``."""
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        check = QTimer(interval=5)
        check.timeout.connect(lambda: loop.quit() if finished() else None)
        QTimer.singleShot(600_000, loop.quit)
        self.clock.start()
        self.ticker.start()
        check.start()
        started = time.perf_counter()
        action()
        loop.exec()
        self.ticker.stop()
        check.stop()
        if not finished():
            sys.exit("measure: gave up after 600 s")
        return time.perf_counter() - started

    def stalls(self) -> dict:
        gaps = sorted(self.gaps)
        return {"longest_stall_ms": gaps[-1] if gaps else None,
                "p99_tick_ms": gaps[int(len(gaps) * 0.99)] if gaps else None}


def _photos(folder: Path, count: int, size: int) -> list[str]:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"img{i:04d}.jpg"
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path, quality=85)
        paths.append(str(path))
    return paths


def _time_choice(app, window, paths: list[str], variant: str, timer: LoopTimer) -> dict:
    """From choosing an unexported variant in the picker to its first result on the loaded images."""
    window.studio.add_paths(paths)
    while not all(e.result or e.error for e in window.studio.entries.values()):
        app.processEvents()
    offer = next(o for o in window.studio.offers if o.variant == variant and not o.exported)
    # An ImageNet variant goes through "Export with random weights instead": no download here.
    signal = window.picker.random_requested if offer.weights == "imagenet" else window.picker.chosen
    elapsed = timer.timed(lambda: signal.emit(offer), lambda: any(
        e.result and e.result.model.startswith(variant) for e in window.studio.entries.values()))
    return {"variant": variant, "weights": "random", "choice_to_first_result_s": round(elapsed, 2),
            **timer.stalls(), "torch_imported": "torch" in sys.modules}


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

    from PySide6.QtCore import QSettings
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
    paths = _photos(Path(folder.name), args.images, args.size)
    timer = LoopTimer()
    if args.choose:
        report = _time_choice(app, window, paths, args.choose, timer)
    else:
        elapsed = timer.timed(lambda: window.studio.add_paths(paths),
                              lambda: all(e.result or e.error for e in window.studio.entries.values()))
        report = {"model": window.studio.info.name, "provider": window.studio.handle.provider,
                  "window_shown_s": round(shown, 3), "model_ready_s": round(model_ready, 3), "images": args.images,
                  "classify_s": round(elapsed, 2), "images_per_second": round(args.images / elapsed, 1),
                  **timer.stalls(), "torch_imported": "torch" in sys.modules}
    window.close()
    print(json.dumps(report, indent=2))
    folder.cleanup()


if __name__ == "__main__":
    main()
