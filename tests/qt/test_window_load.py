"""Load on the window: a thousand dropped images, cancelling halfway, twenty quick model switches."""

import re
from pathlib import Path

import pytest
from qt_events import drop, files
from resnet_studio.core.catalog import shipped_models_dir
from runners import make_images

MODELS = shipped_models_dir()


TIMEOUT = 300_000


def rss_mb() -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) / 1024


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

