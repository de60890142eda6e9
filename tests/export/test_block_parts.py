"""Every block's F(x) and shortcut in the exported file, and what the engine computes from them."""

import numpy as np
import onnxruntime as ort
import pytest
from resnet_studio.core.model_file import read_model
from resnet_studio.models import VARIANTS


def test_every_block_exports_its_branch_and_shortcut(tmp_path):
    from resnet_studio.export.api import export, prepare

    # The three kinds of block, on small variants: residual, grouped (ResNeXt) and plain.
    for name, size in (("resnet20", 28), ("resnext29_8x4d", 28), ("plain20", 28)):
        path = tmp_path / f"{name}.onnx"
        export(prepare(name, image_size=size if VARIANTS[name].family == "imagenet" else None), path)
        info = read_model(path)
        taps = info.taps
        blocks = taps.blocks()
        assert taps.blocks("branch") == taps.blocks("input") == blocks and len(blocks) == len(info.architecture.blocks())
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).normal(size=(2, *info.input.shape)).astype(np.float32)
        names = [o.name for o in session.get_outputs()]
        out = dict(zip(names, session.run(None, {"input": x})))
        for before, block in zip([None, *blocks], blocks):
            branch, output = out[taps.tensor(block, "branch")], out[taps.tensor(block, "output")]
            assert taps.tensor(block, "input") == (taps.tensor(before, "output") if before else taps.stem)
            if VARIANTS[name].residual:
                shortcut = out[taps.tensor(block, "shortcut")]
                np.testing.assert_allclose(np.maximum(branch + shortcut, 0), output, atol=1e-5)
            else:
                assert taps.tensor(block, "shortcut") is None
                np.testing.assert_allclose(np.maximum(branch, 0), output, atol=1e-5)
    # Plain networks have no addition anywhere in their graph.
    import onnx

    assert not any(n.op_type == "Add" for n in onnx.load(str(tmp_path / "plain20.onnx")).graph.node)
    assert any(n.op_type == "Add" for n in onnx.load(str(tmp_path / "resnet20.onnx")).graph.node)
    # Plain classification prunes to logits: byte for byte the same graph as without the new outputs.
    from resnet_studio.core.graph import logits_only_bytes

    full = onnx.load(str(tmp_path / "resnet20.onnx"))
    kept = [o for o in full.graph.output if not o.name.endswith((".branch", ".shortcut"))]
    del full.graph.output[:]
    full.graph.output.extend(kept)
    assert logits_only_bytes((tmp_path / "resnet20.onnx").read_bytes()) == logits_only_bytes(full.SerializeToString())
    bare = tmp_path / "bare.onnx"
    export(prepare("resnet20"), bare, activations=False)
    assert [o.name for o in ort.InferenceSession(str(bare), providers=["CPUExecutionProvider"]).get_outputs()] \
        == ["logits"]
    assert read_model(bare).taps.blocks() == []



@pytest.fixture(scope="module")
def with_parts(tmp_path_factory):
    from resnet_studio.export.api import export, prepare

    folder = tmp_path_factory.mktemp("parts")
    export(prepare("resnet20"), folder / "resnet20-parts.onnx")
    return folder



def test_what_a_block_adds_in_the_engine(with_parts):
    from PIL import Image
    from resnet_studio.core.engine import Engine
    from resnet_studio.core.session import SessionPool

    info = read_model(with_parts / "resnet20-parts.onnx")
    engine = Engine(SessionPool("cpu"))
    image = Image.fromarray(np.random.default_rng(3).integers(0, 255, (28, 28), dtype=np.uint8))
    same = engine.block_parts(info, image, "layer1.1", 6)
    assert not same.projection and same.input_channels == same.channels
    np.testing.assert_allclose(same.shortcut, same.input, atol=1e-6)  # identity: the shortcut is x
    np.testing.assert_allclose(np.maximum(same.branch + same.shortcut, 0), same.output, atol=1e-5)
    changed = engine.block_parts(info, image, "layer2.0", 6)
    assert changed.projection and changed.input.shape[1:] == (28, 28) and changed.output.shape[1:] == (14, 14)
    responses = engine.layer_responses(info, engine.model_input(info, image)[None])
    assert responses.shape == (1, 9) and (responses > 0).all()

