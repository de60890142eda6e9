"""A ResNet file another tool wrote, dropped on the real window: it opens, its structure, activations and
CAM are shown from what the graph holds, and its preprocessing can be chosen."""

from __future__ import annotations

import pytest
from foreign_files import torch_export
from PIL import Image
from qt_events import action, drop, files
from resnet_studio.core.model_file import read_model
from resnet_studio.models import build_model
from runners import TIMEOUT, all_done


@pytest.fixture
def resnet18_from_torch(tmp_path, monkeypatch):
    # A choice remembered for the same bytes by another test would make the preset no longer a guess.
    monkeypatch.setenv("RESNET_STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    return torch_export(build_model("resnet18", num_classes=10), tmp_path / "from-torchvision.onnx", 64, dynamo=False)


def test_a_dropped_foreign_resnet_opens_with_its_structure_activations_and_preset(qtbot, open_window, tmp_path,
                                                                                   resnet18_from_torch):
    window = open_window(tmp_path / "models")
    image = tmp_path / "photo.png"
    Image.new("RGB", (120, 90), (200, 120, 40)).save(image)
    drop(window, files([resnet18_from_torch, image]))  # the model file opens as the model, the image is classified
    qtbot.waitUntil(lambda: window.studio.info is not None and window.studio.info.path == resnet18_from_torch,
                    timeout=TIMEOUT)
    qtbot.waitUntil(lambda: all_done(window) and all(e.result and e.result.model == "from-torchvision"
                                                     for e in window.studio.entries.values()), timeout=TIMEOUT)
    assert len(window.studio.entries) == 1  # the .onnx is not an image
    assert window.structure.view.stage_counts == [2, 2, 2, 2]
    assert "layer4.1.add" in window.structure.view.items
    panel = window.activations
    assert [panel.block.itemText(i) for i in range(panel.block.count())][:3] == ["stem", "layer1.0", "layer1.1"]
    assert panel.cam_box.isEnabled() and panel.mode.model().item(1).isEnabled()
    window.list.setCurrentRow(0)
    window.tabs.setCurrentWidget(panel)
    panel.mode.setCurrentIndex(panel.mode.findData(True))
    panel.select_block("layer2.0")
    qtbot.waitUntil(lambda: "layer2.0" in panel.grid_box.title(), timeout=TIMEOUT)
    assert panel.cam_view.pixmap() is not None and not panel.cam_view.pixmap().isNull()
    # The preprocessing is a guess, said so, and the user's choice is kept for this file's bytes.
    menu = window.menus.presets_menu
    assert menu.isEnabled() and "guessed" in menu.title() and window.menus.preset["torchvision"].isChecked()
    action(window, "timm — crop 95%, bicubic, ImageNet mean/std").trigger()
    qtbot.waitUntil(lambda: window.studio.info.discovery.preset == "timm", timeout=TIMEOUT)
    qtbot.waitUntil(lambda: all_done(window), timeout=TIMEOUT)
    assert window.menus.preset["timm"].isChecked() and "guessed" not in menu.title()
    assert read_model(resnet18_from_torch).discovery.preset == "timm"
    assert window.studio.info.preprocess.interpolation == "bicubic"


def test_save_as_self_describing_writes_the_adopted_copy_and_opens_it(qtbot, open_window, tmp_path, monkeypatch,
                                                                     resnet18_from_torch):
    from qt_events import answer_save_dialog

    window = open_window(tmp_path / "models", resnet18_from_torch)
    assert window.menus.adopt.isEnabled()
    target = tmp_path / "models" / "described.onnx"
    answer_save_dialog(monkeypatch, target)
    action(window, "Save as self-describing…").trigger()
    qtbot.waitUntil(lambda: window.studio.info is not None and window.studio.info.path == target, timeout=TIMEOUT)
    info = window.studio.info
    assert info.has_metadata and info.architecture.source == "found" and len(info.taps.blocks()) == 8
    assert not window.menus.adopt.isEnabled() and not window.menus.presets_menu.isEnabled()
    assert "found in its graph" in window.structure.view.graphs[0].title
