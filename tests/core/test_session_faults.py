"""Sessions keep working when the file they were built from goes away."""

import numpy as np
import pytest
from PIL import Image
from resnet_studio.core.engine import Engine
from resnet_studio.core.model_file import read_model
from resnet_studio.core.session import ProviderError, SessionPool


@pytest.fixture(scope="module")
def small_onnx(tmp_path_factory):
    from resnet_studio.export.api import export, prepare

    path = tmp_path_factory.mktemp("m") / "resnet20.onnx"
    export(prepare("resnet20"), path)
    return path



def test_a_model_deleted_while_loaded_keeps_working(small_onnx, tmp_path):
    model = tmp_path / "doomed.onnx"
    model.write_bytes(small_onnx.read_bytes())
    Image.new("L", (28, 28), 128).save(tmp_path / "x.png")
    info = read_model(model)
    engine = Engine(SessionPool("cpu"))
    (before,) = engine.classify_files(info, [tmp_path / "x.png"])
    model.unlink()
    (after,) = engine.classify_files(info, [tmp_path / "x.png"])
    assert after.ok and after.predictions[0].index == before.predictions[0].index
    with pytest.raises(ProviderError, match="the model file is gone"):
        Engine(SessionPool("cpu")).classify_arrays(info, np.zeros((1, 1, 28, 28), np.float32), ["x"])

