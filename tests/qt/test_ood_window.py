"""The window warns on an image unlike the training data."""

import numpy as np
from PIL import Image
from qt_events import drop, files
from resnet_studio.core.catalog import DEFAULT_MODEL, shipped_models_dir


def test_the_window_warns_on_an_image_unlike_the_training_data(qtbot, open_window, tmp_path):
    photo = tmp_path / "colour.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (200, 300, 3), dtype=np.uint8)).save(photo)
    window = open_window(tmp_path / "user", shipped_models_dir() / f"{DEFAULT_MODEL}.onnx")
    drop(window, files([photo, shipped_models_dir() / "samples" / "shirt-test4.png"]))
    qtbot.waitUntil(lambda: len(window.studio.entries) == 2 and all(
        e.result for e in window.studio.entries.values()), timeout=60_000)
    window.list.setCurrentRow(0)
    assert "unlike the training data" in window.list.item(0).text()
    assert window.predictions.warning.isVisible()
    assert "10 kinds of clothing, greyscale, on black" in window.predictions.warning.text()
    # Drawn as doubtful, as random weights are: no bold claim, muted bars.
    assert window.predictions.title.text().startswith("Doubtful: ") and window.predictions.bars.muted
    window.list.setCurrentRow(1)
    assert "unlike" not in window.list.item(1).text() and not window.predictions.warning.isVisible()
    assert not window.predictions.title.text().startswith("Doubtful") and not window.predictions.bars.muted

