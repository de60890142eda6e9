"""What the tests of every area share: the commands run as a user runs them, and the shipped default model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from PIL import Image
from resnet_studio.core.catalog import DEFAULT_MODEL, shipped_models_dir

DEFAULT = shipped_models_dir() / f"{DEFAULT_MODEL}.onnx"
SAMPLES = shipped_models_dir() / "samples"
TIMEOUT = 60_000  # ms a window waits for a model or a result


def cli(*args, timeout=120, **kwargs) -> subprocess.CompletedProcess:
    """``resnet-studio ARGS`` in a child process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "resnet_studio.gui.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, errors="replace", **kwargs)


def export_cli(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    """``resnet-export ARGS`` in a child process."""
    return subprocess.run([sys.executable, "-m", "resnet_studio.export.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, errors="replace", **kwargs)


def one_line_refusal(result: subprocess.CompletedProcess, expect: str) -> None:
    """A usage-level refusal: exit code 2, one line on stderr holding ``expect``, no traceback."""
    assert result.returncode == 2, result.stderr
    assert expect in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def with_metadata(target: Path, **updates) -> Path:
    """A copy of the shipped default model with some metadata replaced (values JSON-encoded)."""
    model = onnx.load(str(DEFAULT))
    props = {p.key: p.value for p in model.metadata_props}
    props.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in updates.items()})
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(target))
    return target


def all_done(window) -> bool:
    """Every image in the window has its result or its reason."""
    return bool(window.studio.entries) and all(e.result or e.error for e in window.studio.entries.values())


def make_images(folder: Path, count: int, side: int = 28) -> list[Path]:
    """``count`` random greyscale PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"{i:05d}.png"
        Image.fromarray(rng.integers(0, 255, (side, side), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


PLANTED = "import pathlib\npathlib.Path(__file__).with_name('PLANTED-CODE-RAN').touch()\n"


def plant(folder: Path) -> Path:
    """Modules a child would import if the folder it was started from came first on ``sys.path``;
    returns the marker file any of them writes when imported."""
    for name in ("json.py", "argparse.py", "numpy.py"):
        (folder / name).write_text(PLANTED)
    return folder / "PLANTED-CODE-RAN"


def console_script(name: str) -> str:
    """An installed command (``resnet-studio``), as a user starts it from a shell."""
    return str(Path(sys.executable).with_name(name))


def deep_folder(top: Path, levels: int) -> Path:
    """``top``/d/d/…/d, ``levels`` deep, made one level at a time: Python 3.11's ``Path.mkdir(parents=True)``,
    ``os.makedirs`` and ``shutil.rmtree`` recurse and stop near 1,000 levels. Remove it with ``remove_deep``."""
    path = top
    path.mkdir(parents=True, exist_ok=True)
    for _ in range(levels):
        path = path / "d"
        os.mkdir(path)
    return path


def remove_deep(top: Path) -> None:
    """Remove a tree ``deep_folder`` made, from the bottom up, without recursion."""
    stack = [str(top)]
    order = []
    while stack:
        folder = stack.pop()
        order.append(folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    os.unlink(entry.path)
    for folder in reversed(order):
        os.rmdir(folder)


def cpu_provider() -> str:
    """What a plain CPU run reports on this machine: OpenVINO where this CPU runs it fastest, else ORT's CPU."""
    from resnet_studio.core import openvino_runtime
    from resnet_studio.core.session import CPU

    return openvino_runtime.OPENVINO if openvino_runtime.choose("auto")[0] == "openvino" else CPU
