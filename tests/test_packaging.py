import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_source_folder_is_a_listed_package():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    for package, folder in mapping.items():
        for directory in [ROOT / folder, *(p for p in (ROOT / folder).rglob("*") if p.is_dir())]:
            if "__pycache__" in directory.parts or "screenshots" in directory.parts:  # README pictures, not shipped
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
