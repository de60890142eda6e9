"""Every variant as predict and models --all list it: its state, its download, the command that makes it."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from PIL import Image
from resnet_studio.core.catalog import DEFAULT_MODEL, Catalog, shipped_models_dir
from resnet_studio.gui.viewmodel import lineup
from resnet_studio.models.registry import VARIANTS


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No checkpoint cached, and every download refused at once (nothing listens on port 9)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("RESNET_STUDIO_WEIGHTS_MIRROR", "http://127.0.0.1:9/models/")



def test_every_variant_is_offered_and_twins_are_one_offer(tmp_path, offline):
    offers = lineup.offers(Catalog(tmp_path))
    assert {o.variant for o in offers} >= set(VARIANTS)
    default = next(o for o in offers if o.title == DEFAULT_MODEL)
    assert sorted(default.files) == ["fp32", "int8"] and default.group == "trained"
    assert default.pick("cpu").path.name == f"{DEFAULT_MODEL}-int8.onnx"
    assert default.pick("cuda").path.name == f"{DEFAULT_MODEL}.onnx"  # no fp16 twin: fp32
    assert default.pick("cpu", "fp32").path.name == f"{DEFAULT_MODEL}.onnx"
    assert default.pick("cpu", "fp16").path.name == f"{DEFAULT_MODEL}-int8.onnx"  # asked for, absent: the policy
    groups = [o.group for o in offers]
    assert groups == sorted(groups, key=list(lineup.GROUP_TITLES).index) and groups[0] == "trained"
    r50 = next(o for o in offers if o.variant == "resnet50" and not o.exported)
    assert r50.weights == "imagenet" and "download ≈ 102 MB" in r50.line()
    # A variant with a shipped trained file is still offered for export with random weights.
    resnet56 = [o for o in offers if o.variant == "resnet56"]
    assert {(o.exported, o.weights) for o in resnet56} == {(True, "trained"), (False, "random")}
    with pytest.raises(lineup.ModelRejected, match="ships with the app"):
        lineup.delete(default)



def test_a_cached_checkpoint_is_said_so(tmp_path, offline):
    entry = VARIANTS["resnet18"].imagenet["v1"]
    entry.cache_path.parent.mkdir(parents=True)
    entry.cache_path.write_bytes(b"stand-in")
    r18 = next(o for o in lineup.offers(Catalog(tmp_path)) if o.variant == "resnet18")
    assert r18.checkpoint_cached and r18.state() == "not exported; checkpoint cached"



def _cli(*args, env_extra=None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "resnet_studio.gui.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env=env)



def test_models_all_lists_every_variant_with_its_state(tmp_path, offline):
    shutil.copy(shipped_models_dir() / f"{DEFAULT_MODEL}.onnx", tmp_path / "mine.onnx")
    result = _cli("models", "--all", "--json", "--models-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["variant"] for r in rows} >= set(VARIANTS)
    r101 = next(r for r in rows if r["variant"] == "resnet101")
    assert r101["exported"] is False and r101["checkpoint"]["cached"] is False
    assert r101["checkpoint"]["url"] == "http://127.0.0.1:9/models/resnet101-cd907fc2.pth"
    assert r101["command"] == f"resnet-export resnet101 --weights imagenet --output {tmp_path}/resnet101-imagenet-fp32.onnx"
    assert next(r for r in rows if r["name"] == "mine")["files"] == {"fp32": str(tmp_path / "mine.onnx")}
    text = _cli("models", "--all", "--models-dir", str(tmp_path)).stdout
    assert "Untrained (random weights" in text and "resnet110 — random weights" in text
    assert f"make it: resnet-export resnet101 --weights imagenet --output {tmp_path}/resnet101-imagenet-fp32.onnx" in text



def test_predict_on_a_variant_that_is_not_exported_names_the_command(tmp_path, offline):
    image = tmp_path / "x.png"
    Image.new("RGB", (30, 30), "red").save(image)
    result = _cli("predict", str(image), "--model", "resnet50", "--models-dir", str(tmp_path))
    assert result.returncode == 2
    assert (f"resnet50 is not exported yet; make it with: resnet-export resnet50 --weights imagenet --output "
            f"{tmp_path}/resnet50-imagenet-fp32.onnx") in result.stderr
    assert not (tmp_path / "torch").exists()  # nothing was downloaded

