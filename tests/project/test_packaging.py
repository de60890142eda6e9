"""The package as installed: every source folder listed, the top level fixed, the core in the wheel once."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_source_folder_is_a_listed_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    folders = {ROOT / folder for folder in mapping.values()}
    for package, folder in mapping.items():
        for directory in [ROOT / folder, *(p for p in (ROOT / folder).rglob("*") if p.is_dir())]:
            if "__pycache__" in directory.parts or "screenshots" in directory.parts:  # README pictures, not shipped
                continue
            # gui/core sits inside gui/ but is its own package (resnet_studio.core), mapped on its own.
            if directory != ROOT / folder and any(directory.is_relative_to(f) and f != ROOT / folder
                                                   and f.is_relative_to(ROOT / folder) for f in folders):
                continue
            has_content = any(f.suffix in (".py", ".png", ".onnx", ".txt", ".svg") for f in directory.iterdir() if f.is_file())
            relative = directory.relative_to(ROOT / folder).parts
            name = ".".join([package, *relative])
            if has_content:
                assert name in listed, f"{directory} holds files but {name} is not in [tool.setuptools] packages"


def test_top_level_is_exactly_the_product():
    entries = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")} - {"Makefile"}
    generated = {"build", "dist", "runs", "resnet_studio.egg-info"}
    assert entries - generated == {"models", "export", "gui", "resources", "tests", "pyproject.toml", "README.md"}


def test_the_wheel_holds_the_core_once(tmp_path):
    """gui/core is installed as resnet_studio.core only: never also as a subpackage of resnet_studio.gui."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "resnet_studio/core/catalog.py" in names and "resnet_studio/gui/qt/main_window.py" in names
    assert not [n for n in names if n.startswith("resnet_studio/gui/core/")]
