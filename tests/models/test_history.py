"""A training run's history, one row an epoch with the layer responses, reaches the model file."""

import json

import numpy as np
import onnx
import pytest
from resnet_studio.core.model_file import read_model
from resnet_studio.gui.viewmodel import why_residual
from resnet_studio.models.fashion_mnist import DEFAULT_DIR


@pytest.mark.slow  # 80-110 s: the export scores the 10,000 test images; test_train checks the rows by default
@pytest.mark.skipif(not DEFAULT_DIR.exists(), reason="dataset-fashion-mnist is not installed")
def test_a_two_epoch_run_records_two_rows_that_reach_the_model_file(tmp_path):
    from resnet_studio.gui.cli.main import main as studio_main
    from resnet_studio.models.checkpoint import safetensors_metadata

    out, model = tmp_path / "run", tmp_path / "plain20-tiny.onnx"
    assert studio_main(["train", "plain20", "--epochs", "2", "--subset", "600", "--batch-size", "100",
                        "--threads", "2", "--output", str(out), "--export", str(model), "--quiet"]) == 0
    history = safetensors_metadata(out / "model.safetensors")["metrics"]["history"]
    assert [row["epoch"] for row in history] == [1, 2]
    assert set(history[0]) == {"epoch", "train_loss", "train_error", "test_error", "responses", "seconds"}
    # The std of each of plain20's 9 blocks' F(x) on a fixed held-out batch, recorded every epoch.
    assert all(len(row["responses"]) == 9 and min(row["responses"]) > 0 for row in history)
    props = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    assert json.loads(props["metrics"])["history"] == history
    c = why_residual.curves(read_model(model))
    assert list(c.epochs) == [1, 2] and np.allclose(c.train_error, [r["train_error"] for r in history])

