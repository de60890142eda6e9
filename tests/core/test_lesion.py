"""Taking blocks out (Veit et al. 2016): graph surgery in memory, checked against the file's own tensors and
against a removal done by hand."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper
from PIL import Image
from resnet_studio.core.catalog import shipped_models_dir
from resnet_studio.core.engine import Engine
from resnet_studio.core.lesion import LesionError, removable_blocks
from resnet_studio.core.model_file import read_model
from resnet_studio.core.session import ProviderError, SessionPool
from resnet_studio.models.fashion_mnist import load_split
from runners import DEFAULT, cli

SHIPPED = shipped_models_dir()


def fashion(info, count):
    images, labels = load_split("test")
    engine = Engine()
    return np.stack([engine.model_input(info, Image.fromarray(i, "L")) for i in images[:count]]), labels[:count]


@pytest.mark.parametrize("name", ["resnet20-fashion-mnist", "resnet20-fashion-mnist-int8"])
def test_a_removed_identity_block_passes_its_input_through_and_restoring_is_bit_for_bit(name):
    info = read_model(SHIPPED / f"{name}.onnx")
    batch, _ = fashion(info, 8)
    pool = SessionPool("cpu", runtime="onnxruntime")
    taps = info.taps
    before = pool.run(info, batch, [info.output.name])[1][0]
    x, out = taps.tensor("layer2.1", "input"), taps.tensor("layer2.1", "output")
    _, (given, output, branch) = pool.run(info, batch, [x, out, taps.tensor("layer2.1", "branch")], full=True,
                                          removed=frozenset({"layer2.1"}))
    if "int8" in name:  # the shortcut is quantized again at the output's scale: x to within a step
        assert np.abs(output - given).max() <= 0.05 * np.abs(given).max()
    else:
        assert np.array_equal(output, given)  # ReLU(x) = x: x leaves a ReLU
    assert np.abs(branch).max() > 0  # F(x) is still computed, for the views, but no longer added
    lesioned = pool.run(info, batch, [info.output.name], removed=frozenset({"layer2.1"}))[1][0]
    assert not np.array_equal(lesioned, before)
    assert np.array_equal(pool.run(info, batch, [info.output.name])[1][0], before)


def test_a_projection_block_keeps_its_projection_and_several_blocks_go_together():
    info = read_model(SHIPPED / "resnet20-fashion-mnist.onnx")
    batch, _ = fashion(info, 4)
    pool = SessionPool("cpu", runtime="onnxruntime")
    taps = info.taps
    removed = frozenset({"layer2.0", "layer2.1", "layer3.2"})
    names = [taps.tensor("layer2.0", "shortcut"), taps.tensor("layer2.0", "output"), taps.tensor("layer3.2", "input"),
             taps.tensor("layer3.2", "output")]
    shortcut, output, given, last = pool.run(info, batch, names, full=True, removed=removed)[1]
    assert np.array_equal(output, np.maximum(shortcut, 0)) and np.array_equal(last, given)


def test_a_plain_network_loses_blocks_only_where_an_identity_fits():
    info = read_model(SHIPPED / "plain20-fashion-mnist-5ep.onnx")
    blocks = {r.block: r for r in removable_blocks(info)}
    assert blocks["layer2.0"].reason and blocks["layer2.0"].kind == "projection"
    assert blocks["layer2.1"].reason is None and blocks["layer2.1"].kind == "identity"
    batch, _ = fashion(info, 4)
    pool = SessionPool("cpu", runtime="onnxruntime")
    x, out = info.taps.tensor("layer2.1", "input"), info.taps.tensor("layer2.1", "output")
    given, output = pool.run(info, batch, [x, out], full=True, removed=frozenset({"layer2.1"}))[1]
    assert np.array_equal(given, output)
    with pytest.raises(ProviderError, match="layer2.0 cannot be removed: its output has another shape"):
        pool.run(info, batch, [info.output.name], removed=frozenset({"layer2.0"}))
    with pytest.raises(ProviderError, match="has no block 'layer9.9'"):
        pool.run(info, batch, [info.output.name], removed=frozenset({"layer9.9"}))
    assert issubclass(LesionError, ValueError)


def removed_by_hand(path, info, block) -> bytes:
    """The block's F(x) multiplied by zero before its addition: shortcut + 0·F(x) is the shortcut exactly."""
    model = onnx.load(str(path))
    other = info.taps.tensor(block, "branch")
    (add,) = [n for n in model.graph.node if n.op_type == "Add" and other in n.input]
    position = list(model.graph.node).index(add)
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((), np.float32), "hand.zero"))
    zeroed = helper.make_node("Mul", [other, "hand.zero"], [f"hand.{block}"])
    add.input[list(add.input).index(other)] = f"hand.{block}"
    nodes = list(model.graph.node)
    nodes.insert(position, zeroed)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model.SerializeToString()


def test_lesion_json_matches_a_removal_done_by_hand(tmp_path):
    path = DEFAULT
    result = cli("lesion", path, "--images", 96, "--json", "--runtime", "onnxruntime", "--device", "cpu", timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    info = read_model(path)
    batch, labels = fashion(info, 96)

    def accuracy(data: bytes) -> float:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        logits = session.run([info.output.name], {info.input.name: batch})[0]
        return float(np.mean(logits.argmax(axis=1) == labels))

    assert report["model"] == info.name and report["images"] == 96
    assert report["intact_accuracy"] == accuracy(path.read_bytes())
    rows = {row["block"]: row for row in report["blocks"]}
    assert list(rows) == [b.name for b in info.architecture.blocks()]
    assert {row["kind"] for row in rows.values()} == {"identity", "projection"}
    assert rows["layer2.0"]["kind"] == "projection" and rows["layer2.1"]["kind"] == "identity"
    for block in ("layer1.0", "layer2.0", "layer3.2"):
        assert rows[block]["accuracy"] == accuracy(removed_by_hand(path, info, block)), block


def test_lesion_refuses_what_it_cannot_measure(tmp_path):
    (tmp_path / "elephant").mkdir()
    Image.new("L", (28, 28)).save(tmp_path / "elephant" / "a.png")
    result = cli("lesion", DEFAULT, "--data", tmp_path)
    assert result.returncode == 2 and "match no class of the model: elephant" in result.stderr
    assert "Traceback" not in result.stderr
