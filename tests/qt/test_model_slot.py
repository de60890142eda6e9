"""The model slot: when loads finish in another order than they were asked for, the last one asked for wins."""

from resnet_studio.core.catalog import Catalog, shipped_models_dir
from resnet_studio.gui.qt.model_slot import ModelSlot

MODELS = shipped_models_dir()


def test_a_load_that_lands_after_a_newer_one_is_dropped(qtbot, tmp_path):
    started = []  # the slot's workers, run here by hand, newest first
    slot = ModelSlot(Catalog(tmp_path / "models"), "cpu", started.append)
    changed, failed = [], []
    slot.model_changed.connect(changed.append)
    slot.model_failed.connect(failed.append)
    slot.load_model(str(MODELS / "resnext29-fashion-mnist.onnx"))
    slot.load_model(str(MODELS / "resnet20-fashion-mnist-int8.onnx"))
    slot.load_model(str(tmp_path / "missing.onnx"))  # superseded: its failure is not said
    slot.load_model(str(MODELS / "resnet20-fashion-mnist.onnx"))
    for worker in reversed(started):
        worker.run()
    assert [info.name for info in changed] == ["resnet20-fashion-mnist"]
    assert slot.info.name == "resnet20-fashion-mnist" and slot.loading == 0 and failed == []


def test_the_newest_load_failing_is_said_and_keeps_the_model(qtbot, tmp_path):
    started = []
    slot = ModelSlot(Catalog(tmp_path / "models"), "cpu", started.append)
    failed = []
    slot.model_failed.connect(failed.append)
    slot.load_model(str(MODELS / "resnet20-fashion-mnist.onnx"))
    started.pop().run()
    slot.load_model(str(tmp_path / "missing.onnx"))
    started.pop().run()
    assert slot.info.name == "resnet20-fashion-mnist" and len(failed) == 1 and "missing.onnx" in failed[0]
