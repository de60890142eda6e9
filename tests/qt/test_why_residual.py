"""Why residual? in the app: the shipped plain and residual pairs and the view built from them."""

import numpy as np
import onnx
import pytest
from qt_events import drop, files
from resnet_studio.core.catalog import shipped_models_dir
from resnet_studio.core.model_file import read_model
from resnet_studio.gui.viewmodel import why_residual

DEPTHS = (20, 56)



EPOCHS = 5



def shipped(kind, depth):
    return shipped_models_dir() / f"{kind}{depth}-fashion-mnist-{EPOCHS}ep.onnx"



@pytest.mark.parametrize("depth", DEPTHS)
def test_the_shipped_pairs_have_one_recipe_and_plain_ones_no_addition(depth):
    plain, residual = read_model(shipped("plain", depth)), read_model(shipped("resnet", depth))
    assert (plain.variant, residual.variant) == (f"plain{depth}", f"resnet{depth}")
    assert not any(n.op_type == "Add" for n in onnx.load(str(shipped("plain", depth))).graph.node)
    assert any(n.op_type == "Add" for n in onnx.load(str(shipped("resnet", depth))).graph.node)
    for info in (plain, residual):
        c = why_residual.curves(info)
        assert list(c.epochs) == list(range(1, EPOCHS + 1)) and not np.isnan(c.test_error).any()
        assert 0 < c.train_error[-1] < c.train_error[0] < 1
        # The last history row is the file's own test accuracy, measured in PyTorch.
        assert c.test_error[-1] == pytest.approx(1 - info.meta.metrics.values["test_top1"], abs=1e-4)
        command = info.meta.weights.extra["command"]
        assert "--epochs 5" in command and "--weight-decay 1e-4" in command and "--seed 0" in command
    # Plain nets have fewer parameters only where the projections went (2 of them: 2,752).
    assert residual.meta.params - plain.meta.params == 2752



def test_pairs_are_found_by_variant_and_history():
    infos = [read_model(p) for p in sorted(shipped_models_dir().glob("*.onnx"))]
    pairs = why_residual.pairs(infos)
    assert [p.depth for p in pairs] == list(DEPTHS)
    assert all(p.plain.precision == "fp32" or p.plain.precision == "int8" for p in pairs)
    # The default model (40 epochs, no history) is not part of any pair.
    assert all("5ep" in p.residual.name for p in pairs)



def test_the_view_renders_from_the_shipped_files(qtbot, open_window, tmp_path):
    window = open_window(tmp_path / "user", shipped_models_dir() / "resnet20-fashion-mnist.onnx")
    panel = window.why
    qtbot.waitUntil(lambda: len(panel.pairs) == len(DEPTHS), timeout=60_000)
    for plot in (panel.plain_plot, panel.residual_plot):
        lines = plot.getPlotItem().listDataItems()
        assert len(lines) == 2 * len(DEPTHS)  # train and test error per depth
        assert all(len(line.getData()[0]) == EPOCHS for line in lines)
    table = panel.table.text().splitlines()
    assert table[0].startswith("model") and len(table) == 1 + 2 * len(DEPTHS)
    assert {row.split()[0] for row in table[1:]} == {f"{k}{d}" for k in ("plain", "resnet") for d in DEPTHS}
    drop(window, files([shipped_models_dir() / "samples" / "coat-test6.png"]))
    qtbot.waitUntil(lambda: bool(window.studio.entries) and all(e.result for e in window.studio.entries.values()),
                    timeout=60_000)
    window.list.setCurrentRow(0)
    window.tabs.setCurrentWidget(panel)
    deepest = panel.current_pair()
    assert deepest.depth == DEPTHS[-1]
    qtbot.waitUntil(lambda: panel.residual_card.picture.pixmap() is not None
                    and not panel.residual_card.picture.pixmap().isNull(), timeout=60_000)
    blocks = 3 * (DEPTHS[-1] - 2) // 6
    for card, curve in ((panel.plain_card, panel.plain_responses), (panel.residual_card, panel.residual_responses)):
        assert not card.picture.pixmap().isNull() and "%" in card.predictions.text()
        assert len(curve.getData()[1]) == blocks
    assert panel.plain_card.title().startswith(f"plain{DEPTHS[-1]}:")
    assert panel.residual_card.title().startswith(f"resnet{DEPTHS[-1]}:")
    panel.depth.setCurrentIndex(0)
    qtbot.waitUntil(lambda: len(panel.residual_responses.getData()[1]) == 9, timeout=60_000)



def test_the_lesion_curves_are_drawn_from_data_measured_on_the_shipped_files(qtbot, open_window, tmp_path):
    import json

    import numpy as np
    from PIL import Image
    from resnet_studio.core.catalog import shipped_models_dir
    from resnet_studio.core.engine import Engine
    from resnet_studio.core.lesion_study import predicted
    from resnet_studio.core.model_file import read_model
    from resnet_studio.core.session import SessionPool
    from resnet_studio.gui.viewmodel.why_residual import lesion_curve
    from resnet_studio.models.fashion_mnist import load_split

    data = json.loads((shipped_models_dir() / "lesion-curves.json").read_text())
    assert data["images"] == "the first 1000 Fashion-MNIST test images" and len(data["models"]) == 4
    # Re-measured here on two blocks of resnet20: the shipped figures are this file's.
    info = read_model(shipped_models_dir() / "resnet20-fashion-mnist-5ep.onnx")
    curve = lesion_curve(info, shipped_models_dir())
    engine = Engine(SessionPool("cpu", runtime="onnxruntime", exact=True))
    images, labels = load_split("test")
    inputs = np.stack([engine.model_input(info, Image.fromarray(i, "L")) for i in images[:1000]])
    for block in ("layer1.0", "layer2.1"):
        measured = np.mean(predicted(engine, info, inputs, frozenset({block})) == labels[:1000])
        assert abs(measured - curve.accuracy[curve.blocks.index(block)]) <= 0.003, block
    assert np.isnan(lesion_curve(read_model(shipped_models_dir() / "plain20-fashion-mnist-5ep.onnx"),
                                 shipped_models_dir()).accuracy[3])  # plain20's layer2.0: no identity fits

    window = open_window(tmp_path / "user")
    panel = window.why
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: len(panel.pairs) == 2, timeout=60_000)
    assert panel.current_pair().depth == 56
    assert panel.lesion_keys["residual"].text().startswith("━━●━━ residual, intact 94.0%")
    assert "plain" in panel.lesion_keys["plain"].text() and "10%" in panel.lesion_note.text()
    lines = [item for item in panel.lesion.getPlotItem().items if hasattr(item, "getData")]
    assert len(lines) == 2 and {int(np.isfinite(line.getData()[1]).sum()) for line in lines} == {25, 27}
