"""Load: a thousand dropped images, twenty quick model switches, ten thousand images through predict.

The figures these tests print (peak memory, growth, throughput) are the ones in the README's
Reliability section; run with ``-s`` to see them.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from qt_events import drop, files
from resnet_studio.core.catalog import shipped_models_dir

MODELS = shipped_models_dir()
TIMEOUT = 300_000


def rss_mb() -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024


def make_images(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"{i:05d}.png"
        Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def window(open_window, tmp_path):
    return open_window(tmp_path / "user", MODELS / "resnet20-fashion-mnist.onnx")


def classified(window) -> int:
    return sum(1 for e in window.studio.entries.values() if e.result or e.error)


def test_a_thousand_images_with_bounded_memory(window, qtbot, tmp_path):
    paths = make_images(tmp_path / "many", 1000)
    start = rss_mb()
    drop(window, files(paths[:500]))
    qtbot.waitUntil(lambda: classified(window) == 500, timeout=TIMEOUT)
    half = rss_mb()
    drop(window, files(paths[500:]))
    qtbot.waitUntil(lambda: classified(window) == 1000, timeout=TIMEOUT)
    full = rss_mb()
    assert all(e.result and e.result.model == "resnet20-fashion-mnist" for e in window.studio.entries.values())
    print(f"\nRSS: start {start:.0f} MB, after 500 {half:.0f} MB, after 1000 {full:.0f} MB")
    # The second 500 may add their thumbnails (~12 KB each) and little else.
    assert full - half < 40


def test_cancelling_halfway_leaves_the_app_usable(window, qtbot, tmp_path):
    paths = make_images(tmp_path / "many", 1000)
    drop(window, files(paths))
    qtbot.waitUntil(lambda: classified(window) >= 100, timeout=TIMEOUT)
    window.cancel.click()
    qtbot.waitUntil(lambda: not window.studio.queue.in_flight, timeout=TIMEOUT)
    done = classified(window)
    assert done < 1000 and not window.progress.isVisible()
    drop(window, files([paths[0]]))
    qtbot.waitUntil(lambda: classified(window) == done + 1, timeout=TIMEOUT)


def test_twenty_quick_model_switches_while_classifying(window, qtbot, tmp_path):
    paths = make_images(tmp_path / "many", 200)
    drop(window, files(paths))
    names = ["resnext29-fashion-mnist", "resnet20-fashion-mnist-int8", "resnet20-fashion-mnist",
             "resnext29-fashion-mnist-int8"]
    for i in range(20):
        window.studio.load_model(str(MODELS / f"{names[i % 4]}.onnx"))
        qtbot.wait(30)
    final = names[19 % 4]
    qtbot.waitUntil(lambda: window.studio.info.name == final and classified(window) == 200
                    and not window.studio.queue.in_flight, timeout=TIMEOUT)
    shown = {e.result.model for e in window.studio.entries.values()}
    assert shown == {final}
    assert all(window.list.item(i).text().count("·") == 1 for i in range(window.list.count()))


def test_predict_on_ten_thousand_images_streams(tmp_path):
    folder = tmp_path / "tenk"
    make_images(folder, 10_000)

    def run(target) -> tuple[float, str]:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c",
                              "import resource, sys; from resnet_studio.gui.cli.main import main; code = main(sys.argv[1:]);"
                              " print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr);"
                              " sys.exit(code)", "predict", str(target), "--device", "cpu", "--top-k", "1"],
                             capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-2000:]
        peak = int(re.search(r"maxrss_kb (\d+)", out.stderr).group(1)) / 1024
        return peak, out.stderr, time.perf_counter() - started

    small = tmp_path / "onek"
    small.mkdir()
    for path in sorted(folder.iterdir())[:1000]:
        (small / path.name).symlink_to(path)
    peak_1k, _, _ = run(small)
    peak_10k, stderr, seconds = run(folder)
    summary = re.search(r"10000 image\(s\) in [\d.]+ s \(([\d.]+) img/s\), 0 failed", stderr)
    assert summary, stderr[-500:]
    print(f"\npredict: peak RSS {peak_1k:.0f} MB for 1,000 images, {peak_10k:.0f} MB for 10,000; "
          f"{summary.group(1)} img/s ({seconds:.1f} s with start-up)")
    assert peak_10k - peak_1k < 30
