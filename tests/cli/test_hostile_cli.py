"""Hostile and broken images, models and checkpoints through predict and resnet-export: a reason each, nothing runs."""

import json
import pickle
import subprocess
import sys

import torch
from hostile import MARKER_NAME, RunsCode, model_cases
from resnet_studio.core.catalog import DEFAULT_MODEL, shipped_models_dir
from runners import DEFAULT


def test_every_image_case_through_the_cli(cases):
    folder, found = cases
    result = subprocess.run([sys.executable, "-m", "resnet_studio.gui.cli.main", "predict", *[c[1] for c in found],
                             "--model", str(DEFAULT), "--json", "--device", "cpu"],
                            capture_output=True, timeout=600)
    assert result.returncode == 1  # some inputs failed, and the process ended normally
    assert b"Traceback" not in result.stderr
    report = json.loads(result.stdout)
    by_source = {r["source"]: r for r in report["results"]}
    assert len(report["results"]) == len(found)
    for name, source, expect in found:
        entry = by_source[source]
        if expect is None:
            assert entry["error"] is None, f"{name}: {entry['error']}"
            assert entry["predictions"][0]["label"] and entry["model"] == DEFAULT_MODEL
        else:
            assert entry["error"] and expect in entry["error"], f"{name}: {entry['error']}"
            assert "\n" not in entry["error"]
    assert not (folder / MARKER_NAME).exists()


def test_cli_prints_odd_file_names_without_crashing(cases):
    folder, found = cases
    odd = next(source for name, source, _ in found if name == "a non-UTF-8 file name")
    result = subprocess.run([sys.executable, "-m", "resnet_studio.gui.cli.main", "predict", odd, "--model", str(DEFAULT),
                             "--device", "cpu"], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"caf" in result.stdout


def test_model_cases_are_refused_through_the_cli(tmp_path):
    image = shipped_models_dir() / "samples" / "bag-test18.png"
    for name, path, expect in model_cases(tmp_path / "models", DEFAULT):
        result = subprocess.run([sys.executable, "-m", "resnet_studio.gui.cli.main", "predict", str(image),
                                 "--model", str(path)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, name
        assert expect in result.stderr and "Traceback" not in result.stderr, f"{name}: {result.stderr}"
        assert len(result.stderr.strip().splitlines()) == 1


def test_checkpoint_cases_through_resnet_export(tmp_path, capsys):
    from resnet_studio.export.cli import main as export_main
    from resnet_studio.models import build_model

    marker = tmp_path / MARKER_NAME
    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"fc.weight": RunsCode(marker)}))
    torch.save({"model": RunsCode(marker)}, tmp_path / "evil-torch.pt")
    keys = build_model("resnet20").state_dict()
    keys["surprise.weight"] = keys.pop("fc.weight")
    torch.save(keys, tmp_path / "keys.pt")
    shapes = build_model("resnet20", num_classes=10).state_dict()
    shapes["layer1.0.conv1.weight"] = torch.zeros(8, 16, 3, 3)
    torch.save(shapes, tmp_path / "shapes.pt")
    for filename, expect in (("evil.pth", "refused, it needs unpickling"),
                             ("evil-torch.pt", "refused, it needs unpickling"),
                             ("keys.pt", "no fc.weight/conv1.weight"),
                             ("shapes.pt", "layer1.0.conv1.weight: file (8, 16, 3, 3), model (16, 16, 3, 3)")):
        assert export_main(["resnet20", "--weights", str(tmp_path / filename),
                            "--output", str(tmp_path / "out.onnx")]) == 1
        err = capsys.readouterr().err
        assert expect in err and "Traceback" not in err, f"{filename}: {err}"
    assert not marker.exists() and not (tmp_path / "out.onnx").exists()

