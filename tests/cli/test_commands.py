"""predict, models and bench as a user runs them: output, JSON and exit codes."""

import json
import subprocess

import pytest
from PIL import Image
from resnet_studio.core.catalog import Catalog
from resnet_studio.core.model_file import ModelRejected
from resnet_studio.gui.cli.main import main as studio_main
from runners import console_script, cpu_provider, plant


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    from resnet_studio.export.api import export, prepare

    path = tmp_path_factory.mktemp("m") / "resnet20-test.onnx"
    export(prepare("resnet20"), path)
    return path



def test_predict_cli_json_and_exit_codes(small_model, tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.new("L", (28, 28), i * 80).save(folder / f"{i}.png")
    (folder / "notes.txt").write_text("ignored: folders expand to images only")
    assert studio_main(["predict", str(folder), "--model", str(small_model), "--json", "--top-k", "2",
                        "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["images"] == 3 and out["failed"] == 0 and out["model"]["variant"] == "resnet20"
    assert out["model"]["weights"].startswith("untrained")
    first = out["results"][0]
    assert set(first) == {"source", "model", "weights", "provider", "provider_note", "predictions", "error",
                          "decode_ms", "inference_ms", "out_of_distribution", "ood_score", "precision"}
    assert len(first["predictions"]) == 2 and first["provider"] == cpu_provider()
    (tmp_path / "bad.jpg").write_text("nope")
    assert studio_main(["predict", str(folder / "0.png"), str(tmp_path / "bad.jpg"), "--model", str(small_model),
                        "--device", "cpu"]) == 1
    text = capsys.readouterr().out
    assert "untrained (random weights)" in text and "bad.jpg: error: " in text and "Traceback" not in text
    (line,) = [line for line in text.splitlines() if "bad.jpg" in line]
    assert line.count("bad.jpg") == 1, line  # the path once, then the reason
    assert studio_main(["predict", str(folder), "--model", "no-such-model"]) == 2
    assert "no model named 'no-such-model'" in capsys.readouterr().err



def test_models_cli_lists_entries(small_model, tmp_path, capsys):
    (tmp_path / "broken.onnx").write_bytes(b"junk")
    (tmp_path / "copy.onnx").write_bytes(small_model.read_bytes())
    assert studio_main(["models", "--models-dir", str(tmp_path), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["copy"]["variant"] == "resnet20" and rows["copy"]["origin"] == "user"
    assert rows["copy"]["group"] == "untrained" and rows["copy"]["activations"] is True
    assert "not a readable ONNX file" in rows["broken"]["error"]
    catalog = Catalog(tmp_path)
    assert catalog.resolve("copy").variant == "resnet20"
    with pytest.raises(ModelRejected, match="did you mean copy"):
        catalog.resolve("cpy")



def test_bench_reports_every_case_and_the_ratios(small_model, tmp_path):
    # Started from a folder holding json.py and argparse.py: none of bench's children may import them.
    marker = plant(tmp_path)
    result = subprocess.run([console_script("resnet-studio"), "bench", "--model", str(small_model), "--seconds", "0.2",
                             "--batch", "4", "--device", "cpu", "--json"], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not marker.exists()
    report = json.loads(result.stdout)
    for case in ("raw_session", "core", "raw_session_batch1", "jpeg_12mp_to_top5", "photos_to_results", "app",
                 "torch_eager", "torch_eager_channels_last", "raw_onnxruntime", "raw_openvino"):
        assert report[case]["images_per_second"] > 0, case
    assert report["raw_onnxruntime"]["runs"] == "CPU · ONNX Runtime"
    assert report["raw_openvino"]["runs"].startswith("CPU · OpenVINO")
    bf16 = report["torch_eager_bf16"]  # timed where the CPU has bf16 instructions, else it says why not
    assert bf16.get("images_per_second", 0) > 0 or "no native bf16" in bf16["skipped"]
    assert report["app"]["images"] == report["photos_to_results"]["images"] == [32, 96]  # steady state: 96 less 32
    assert set(report["ratios"]) == {"core_overhead_vs_raw", "ort_vs_torch", "ort_vs_fastest_torch",
                                     "jpeg_12mp_to_top5_vs_inference", "photos_to_results_time_vs_raw",
                                     "app_time_vs_raw", "openvino_vs_onnxruntime"}
    assert report["provider"] == cpu_provider() and report["threads"] >= 1 and report["cpu"]

