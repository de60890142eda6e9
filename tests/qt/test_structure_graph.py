"""The structure as a data-flow graph: nodes and edges, collapse, compare by role, and the view."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from resnet_studio.core.architecture import Architecture
from resnet_studio.core.catalog import shipped_models_dir
from resnet_studio.gui.viewmodel import block_graph
from resnet_studio.models import VARIANTS, build_model, describe

FASHION = shipped_models_dir() / "resnet20-fashion-mnist.onnx"



def arch(name):
    return Architecture.from_json(describe(build_model(name), VARIANTS[name].input_size, variant=name))



def every_stage(a):
    return {s.name for s in a.stages}



@pytest.mark.parametrize("name, projections, nodes, edges", [
    # nodes: input, stem (conv, max-pool), per block its weight layers and ⊕, the projections, pool, fc, classes.
    ("resnet18", 3, 1 + 2 + 8 * 3 + 3 + 3, 2 + 8 * 4 + 3 * 2 - 3 + 3),
    ("resnet50", 4, 1 + 2 + 16 * 4 + 4 + 3, 2 + 16 * 5 + 4 * 2 - 4 + 3),
    ("resnext50_32x4d", 4, 1 + 2 + 16 * 4 + 4 + 3, 2 + 16 * 5 + 4 * 2 - 4 + 3),
    ("resnet20", 2, 1 + 1 + 9 * 3 + 2 + 3, 1 + 9 * 4 + 2 * 2 - 2 + 3),
])
def test_nodes_and_edges_of_the_expanded_graph(name, projections, nodes, edges):
    a = arch(name)
    graph = block_graph.build(a, name, every_stage(a))
    blocks = len(a.blocks())
    assert len(graph.nodes) == nodes and len(graph.edges) == edges
    # One skip edge into each block's ⊕.
    assert graph.skip_edges_into_adds() == blocks == sum(1 for n in graph.nodes.values() if n.kind == "add")
    # A projection exactly where a stage's first block changes the shape.
    projected = sorted(n.block for n in graph.nodes.values() if n.kind == "projection")
    expected = sorted(f"{s.name}.0" for s in a.stages
                      if s.blocks[0].in_channels != s.blocks[0].out_channels or s.blocks[0].stride > 1)
    assert projected == expected and len(projected) == projections
    head = [graph.nodes[i] for i in ("head.pool", "head.fc", "head.out")]
    assert [n.kind for n in head] == ["avgpool", "fc", "output"]
    assert head[2].label == f"{a.num_classes:,} classes"
    # The data flows one way: every node but the input has an edge in.
    targets = {e.target for e in graph.edges}
    assert set(graph.nodes) - targets == {"input"}



def test_blocks_read_as_in_the_paper():
    basic = block_graph.build(arch("resnet18"), "r18")
    assert [basic.nodes[f"layer2.0.conv{i}"].label for i in (1, 2)] == ["3×3, 128, /2 BN ReLU", "3×3, 128 BN"]
    assert basic.nodes["layer2.0.projection"].label == "1×1, 128, /2 BN"
    assert basic.nodes["layer2.0.add"].label == "⊕ ReLU"
    grouped = block_graph.build(arch("resnext50_32x4d"), "x50")
    assert grouped.nodes["layer1.0.conv2"].label == "3×3, 128, g32 BN ReLU"
    assert grouped.nodes["layer1.0.conv3"].label == "1×1, 256 BN"  # its ReLU comes after ⊕
    plain = block_graph.build(arch("plain20"), "p20", every_stage(arch("plain20")))
    assert not any(n.kind in ("add", "projection") for n in plain.nodes.values())
    assert not any(e.kind == block_graph.SKIP for e in plain.edges)
    assert plain.nodes["layer1.0.conv2"].label == "3×3, 16 BN ReLU"



def test_runs_of_identical_blocks_collapse_and_expand():
    a = arch("resnet101")
    graph = block_graph.build(a, "r101")
    runs = {n.label for n in graph.nodes.values() if n.kind == "run"}
    assert runs == {"layer1.1–2 ×2, identical", "layer2.1–3 ×3, identical", "layer3.1–22 ×22, identical",
                    "layer4.1–2 ×2, identical"}
    run = graph.nodes["layer3.1-22"]
    assert run.attrs["params"] == sum(b.params for b in a.stages[2].blocks[1:])
    opened = block_graph.build(a, "r101", {"layer3"})
    assert "layer3.1-22" not in opened.nodes and "layer3.22.add" in opened.nodes
    assert "layer2.1-3" in opened.nodes



def test_compare_marks_only_real_differences():
    for expanded in (set(), {"layer1", "layer2", "layer3", "layer4"}):
        r50 = block_graph.build(arch("resnet50"), "resnet50", expanded)
        x50 = block_graph.build(arch("resnext50_32x4d"), "resnext50_32x4d", expanded)
        left, right = block_graph.align(r50, x50)
        convs = {n.id for n in r50.nodes.values() if n.kind == "conv" and n.block and n.id.endswith(("conv1", "conv2"))}
        assert left == right == convs, "only the conv1/conv2 widths and the groups differ"
        # Aligned by role: the same block sits at the same place in both.
        for node_id in r50.nodes:
            if node_id in x50.nodes:
                assert (r50.nodes[node_id].column, r50.nodes[node_id].row) == \
                       (x50.nodes[node_id].column, x50.nodes[node_id].row)



def test_compare_of_different_depths_keeps_the_heads_together():
    r18 = block_graph.build(arch("resnet18"), "resnet18")
    r20 = block_graph.build(arch("resnet20"), "resnet20")
    left, right = block_graph.align(r18, r20)
    assert len(r18.columns) == len(r20.columns) == 6
    assert r20.columns[4] == "" and r20.nodes["head.fc"].column == r18.nodes["head.fc"].column == 5
    assert not any(n.column == 4 for n in r20.nodes.values())
    assert "head.fc" in left and "head.pool" not in left  # 512 → 1000 against 64 → 10; pooling is pooling



@pytest.fixture
def structure(open_window, tmp_path):
    window = open_window(tmp_path / "user", FASHION)
    window.tabs.setCurrentWidget(window.structure)
    return window



def test_clicking_nodes_shows_attributes_expands_runs_and_offers_activations(structure, qtbot):
    window, view = structure, structure.structure.view
    view.show_models(("resnext50_32x4d", arch("resnext50_32x4d")))
    item = view.items["layer1.0.conv2"]
    item.setSelected(True)
    text = window.structure.details.text()
    for part in ("3×3, 128, g32", "kernel: 3×3", "stride: 1", "groups: 32", "channels in: 128", "channels out: 128",
                 f"params: {item.node.attrs['params']:,}", f"MACs: {item.node.attrs['macs']:,}", "output: 128×56×56"):
        assert part in text
    window.structure.show_activations.click()
    assert window.tabs.currentWidget() is window.activations
    assert window.activations.current_block() == "layer1.0"
    window.tabs.setCurrentWidget(window.structure)
    view.scene().clearSelection()
    run = view.items["layer3.1-5"]
    view.ensureVisible(run)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(run.rect().center()))
    qtbot.waitUntil(lambda: "layer3.5.add" in view.items, timeout=5000)
    assert "layer3" in view.expanded and "layer2.1-3" in view.items



def test_a_model_change_resets_zoom_and_expansion(structure):
    view = structure.structure.view
    view.show_models(("resnet50", arch("resnet50")))
    view.toggle_stage("layer3")
    view.zoom(2.0)
    view.show_models(("resnet101", arch("resnet101")))
    assert view.expanded == set() and view.transform().m11() <= 1.0
    assert view.horizontalScrollBar().value() == view.horizontalScrollBar().minimum()



def test_the_deepest_variants_fit_readably(structure):
    view = structure.structure.view
    view.resize(900, 600)
    for name in ("resnet152", "wide_resnet101_2", "resnext101_64x4d"):
        view.show_models((name, arch(name)))
        view.fit()
        # Fit keeps text legible: at least 45% of full size in a 900×600 view.
        assert view.transform().m11() >= 0.45, (name, view.transform().m11())
        assert len(view.items) <= 40



def test_titles_stay_pinned_while_scrolling(structure, qtbot):
    view = structure.structure.view
    view.resize(700, 400)
    view.show_models(("resnet50", arch("resnet50")), ("resnext50_32x4d", arch("resnext50_32x4d")))
    view.resetTransform()
    view.verticalScrollBar().setValue(view.verticalScrollBar().maximum())
    qtbot.wait(50)
    band = view.viewport().grab().toImage()
    colours = {band.pixelColor(x, 8).name() for x in range(0, band.width(), 3)}
    assert "#fafafa" in colours or "#f9f9f9" in colours  # the pinned band is drawn over the scene



@pytest.fixture(scope="module")
def with_parts(tmp_path_factory):
    from resnet_studio.export.api import export, prepare

    folder = tmp_path_factory.mktemp("parts")
    export(prepare("resnet20"), folder / "resnet20-parts.onnx")
    return folder



def test_the_block_view_and_the_layer_responses_in_the_app(qtbot, open_window, with_parts):
    from qt_events import drop, files, wheel

    window = open_window(with_parts, with_parts / "resnet20-parts.onnx")
    samples = sorted((shipped_models_dir() / "samples").glob("*.png"))[:3]
    drop(window, files(samples))
    qtbot.waitUntil(lambda: len(window.studio.entries) == 3 and all(e.result for e in window.studio.entries.values()),
                    timeout=60_000)
    window.list.setCurrentRow(0)
    panel = window.activations
    window.tabs.setCurrentWidget(panel)
    panel.mode.setCurrentIndex(panel.mode.findData(True))
    panel.select_block("layer2.1")
    adds = panel.adds
    qtbot.waitUntil(lambda: "What layer2.1 adds" == panel.grid_box.title() and adds.grid.count() > 30, timeout=60_000)
    rows = {adds.grid.itemAtPosition(r, 0).widget().text() for r in range(4)}
    assert rows == {"input x", "F(x)", "shortcut = x", "output"}
    assert all(adds.grid.itemAtPosition(r, 8) is not None for r in range(4))  # 8 channels in every row
    x, y = adds.current.getData()
    assert list(x) == list(range(9)) and (np.asarray(y) > 0).all()
    qtbot.waitUntil(lambda: adds.average.getData()[0] is not None and len(adds.average.getData()[0]) == 9,
                    timeout=60_000)
    assert "Here (mean over 3 loaded images) the std of F(x) " in adds.plot_note.text()
    assert adds.marker.isVisible() and adds.marker.value() == 4  # layer2.1 is the fifth block
    # ‖F(x)‖ / ‖x‖ per block, over the same images, against the file's own tensors.
    qtbot.waitUntil(lambda: adds.closeness.getData()[0] is not None and len(adds.closeness.getData()[0]) == 9,
                    timeout=60_000)
    info, engine = window.studio.info, window.studio.engine
    batch = np.stack([engine.model_input(info, engine.decode(info, str(p))) for p in samples])
    branch, given = engine.taps(info, batch, [info.taps.tensor("layer2.1", role) for role in ("branch", "input")])
    ratio = np.mean([np.linalg.norm(b) / np.linalg.norm(g) for b, g in zip(branch, given)])
    assert abs(adds.closeness.getData()[1][4] - ratio) < 1e-3 * ratio

    # On a 1366×768 screen: the 8 channels fit the width, and the plot shows without scrolling.
    window.resize(1366, 740)
    qtbot.wait(100)
    scroll = panel.pages.currentWidget()
    last = adds.grid.itemAtPosition(3, 8).widget()
    assert last.mapTo(scroll.viewport(), last.rect().topRight()).x() <= scroll.viewport().width()
    bottom = adds.plot.mapTo(scroll.viewport(), adds.plot.rect().bottomLeft()).y()
    assert 0 < bottom <= scroll.viewport().height() + 1, (bottom, scroll.viewport().height())
    # The wheel over the plot scrolls the panel (where there is anything to scroll) and never zooms the plot.
    window.resize(1000, 560)
    qtbot.waitUntil(lambda: scroll.verticalScrollBar().maximum() > 0, timeout=5000)
    ranges = adds.plot.getViewBox().viewRange()
    wheel(adds.plot.viewport(), adds.plot.viewport().rect().center(), -120)
    assert adds.plot.getViewBox().viewRange() == ranges and scroll.verticalScrollBar().value() > 0



def test_any_registry_variant_can_be_compared_without_an_export(structure, qtbot):
    panel = structure.structure
    index = panel.compare.findData("resnext50_32x4d (registry)")
    assert index > 0  # listed though nothing of it is exported
    panel.compare.setCurrentIndex(index)
    qtbot.waitUntil(lambda: len(panel.view.graphs) == 2, timeout=5000)
    assert panel.view.graphs[1].title == "resnext50_32x4d (registry, 224 px)"
    assert "layer4.0.conv2" in {n.id for n in panel.view.graphs[1].nodes.values()}



def test_expanding_a_run_leaves_what_was_clicked_in_place_and_folds_back_from_a_link(structure, qtbot):
    view = structure.structure.view
    view.resize(900, 600)
    view.show_models(("resnet50", arch("resnet50")))
    run = view.items["layer3.1-5"]
    view.ensureVisible(run)
    before = view.mapFromScene(run.rect().topLeft())
    others = {name: view.mapFromScene(view.items[name].rect().topLeft()) for name in ("layer1.0.conv1", "head.fc")}
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(run.rect().center()))
    qtbot.waitUntil(lambda: "layer3.5.add" in view.items, timeout=5000)
    # The run's place now holds its first block; the bands are as they were, so columns beside it stay too.
    assert view.mapFromScene(view.items["layer3.1.conv1"].rect().topLeft()) == before
    assert {name: view.mapFromScene(view.items[name].rect().topLeft()) for name in others} == others
    fold = view.toggles[(0, "layer3")]
    assert fold.text() == "▴ fold identical blocks" and view.toggles[(0, "layer2")].text() == "▾ all 4 blocks"
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.mapFromScene(fold.sceneBoundingRect().center()))
    qtbot.waitUntil(lambda: "layer3.1-5" in view.items, timeout=5000)
    assert view.mapFromScene(view.items["layer3.1-5"].rect().topLeft()) == before and "layer3" not in view.expanded



def test_no_label_is_cut_in_any_variant(structure):
    from PySide6.QtGui import QFont, QFontMetrics

    view = structure.structure.view
    for name in VARIANTS:
        view.show_models((name, arch(name)))
        view.expand_all(True)
        font = QFont(view.font())
        font.setBold(True)
        metrics = QFontMetrics(font)
        for item in view.items.values():
            assert metrics.horizontalAdvance(item.node.label) <= item.rect().width() - 12, (name, item.node.label)



def test_compare_sits_side_by_side_with_legible_text_at_fit(structure):
    from PySide6.QtGui import QFontInfo
    from PySide6.QtWidgets import QGraphicsPathItem

    view = structure.structure.view
    view.resize(900, 600)
    view.show_models(("resnet101", arch("resnet101")), ("resnext101_64x4d", arch("resnext101_64x4d")))
    view.expand_all(True)
    nodes = [i for i in view.scene().items() if hasattr(i, "node")]
    left = [i.sceneBoundingRect() for i in nodes if i.node.id in view.items and view.items[i.node.id] is i]
    right = [i.sceneBoundingRect() for i in nodes if i not in view.items.values()]
    assert len(left) == len(right) > 100
    divide = max(r.right() for r in left)
    assert divide < min(r.left() for r in right)  # one model wholly left of the other
    wires = [i.path().boundingRect() for i in view.scene().items() if isinstance(i, QGraphicsPathItem)]
    assert wires and not [w for w in wires if w.left() < divide < w.right()]  # no wire crosses between them
    view.fit()
    assert view.transform().m11() * QFontInfo(view.font()).pixelSize() >= 8
