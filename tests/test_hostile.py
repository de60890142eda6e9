"""Hostile and broken inputs through the CLI and the app's drop path: a reason each, nothing runs."""

import json
import os
import pickle
import shutil
import subprocess
import sys
import urllib.parse

import pytest
import torch

from hostile import MARKER_NAME, RunsCode, image_cases, model_cases
from resnet_studio.gui.cli.main import expand
from resnet_studio.core.catalog import DEFAULT_MODEL, shipped_models_dir
from resnet_studio.core.engine import Engine
from resnet_studio.core.model_file import read_model
from resnet_studio.core.session import SessionPool

DEFAULT = shipped_models_dir() / f"{DEFAULT_MODEL}.onnx"


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    return folder, image_cases(folder)


def test_there_are_enough_cases(cases):
    _, found = cases
    assert len(found) >= 25


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


def test_every_image_case_through_the_drop_path(cases, qtbot, tmp_path):
    from PySide6.QtCore import QSettings, QUrl

    from resnet_studio.core.catalog import Catalog
    from resnet_studio.gui.qt.main_window import MainWindow
    from qt_events import drop

    folder, found = cases
    window = MainWindow(Catalog(tmp_path), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), "cpu",
                        str(DEFAULT))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.studio.info is not None, timeout=60_000)
    # As a file manager sends them: percent-encoded bytes, which need not be UTF-8.
    urls = [QUrl(source) if "://" in source else
            QUrl.fromEncoded(b"file://" + urllib.parse.quote_from_bytes(os.fsencode(source)).encode())
            for _, source, _ in found]
    drop(window, urls)
    qtbot.waitUntil(lambda: len(window.studio.entries) == len(found)
                    and all(e.result or e.error for e in window.studio.entries.values()), timeout=120_000)
    by_path = {e.path: e for e in window.studio.entries.values()}
    for name, source, expect in found:
        entry = by_path[source]
        if expect is None:
            assert entry.result is not None and entry.error is None, f"{name}: {entry.error}"
        else:
            assert entry.error and expect in entry.error, f"{name}: {entry.error}"
    assert window.isVisible() and not (folder / MARKER_NAME).exists()
    window.studio.shutdown()


def test_an_unreadable_file(tmp_path):
    from PIL import Image

    path = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(path)
    path.chmod(0o000)
    command = [sys.executable, "-c", "import sys; from resnet_studio.core.intake import load_image, ImageRejected\n"
               "try: load_image(sys.argv[1])\nexcept ImageRejected as e: print(e)\n", str(path)]
    if os.geteuid() == 0:
        # Root reads any file; without these two capabilities the permission bits apply to it too.
        caps = "-dac_override,-dac_read_search"
        command = [shutil.which("setpriv") or "setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert "permission denied" in result.stdout.lower(), result.stdout + result.stderr


def test_a_file_deleted_between_listing_and_reading(tmp_path):
    from PIL import Image

    for name in ("a.png", "gone.png", "z.png"):
        Image.new("L", (28, 28), 90).save(tmp_path / name)

    def listing():
        for path in expand([str(tmp_path)]):
            if path.endswith("gone.png"):
                os.unlink(path)
            yield path

    results = list(Engine(SessionPool("cpu")).classify_files(read_model(DEFAULT), listing()))
    assert [r.ok for r in results] == [True, False, True]
    assert "cannot read" in results[1].error or "disappeared" in results[1].error


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
