"""Every child process the project starts: one table of the modules, one way to start them.

Torch work started from the app (export, calibration, training) and each benchmark case run in
child processes. A child starts as ``python -P -m MODULE`` in a private, empty working folder:
``-P`` keeps the current folder off ``sys.path``, and the private folder is what an empty entry
of ``PYTHONPATH`` would name. So an ``argparse.py`` or ``json.py`` in the folder the user started
from (a Downloads folder, say) is never imported.
"""

from __future__ import annotations

import atexit
import shutil
import subprocess
import sys
import tempfile
import threading

# name -> module run with -m. The architecture test checks that each module exists.
MODULES = {
    "export": "resnet_studio.export.cli",  # resnet-export: the app's exports
    "ood_fit": "resnet_studio.export.ood_fit",  # fitting the out-of-distribution warning to a folder
    "random_export": "resnet_studio.export.random_export",  # bench: a random-weights export to time
    "eager_timing": "resnet_studio.models.eager_timing",  # bench: PyTorch eager
    "ort_timing": "resnet_studio.gui.cli.ort_timing",  # export benchmark: raw ONNX Runtime sessions
    "bench_case": "resnet_studio.gui.cli.bench",  # bench: one case of the core's path
    "app_timing": "resnet_studio.gui.qt.app_timing",  # bench: the app's own path
    "keras_resnet50": "resnet_studio.export.keras_resnet50",  # foreign-file benchmark: Keras 3's own export
    "studio": "resnet_studio.gui.cli.main",  # resnet-studio COMMAND, e.g. train from the app
}

_folder: str | None = None
_lock = threading.Lock()


def working_folder() -> str:
    """A folder only this process writes, empty, removed at exit: every child's working folder."""
    global _folder
    with _lock:
        if _folder is None:
            _folder = tempfile.mkdtemp(prefix="resnet-studio-child-")
            atexit.register(shutil.rmtree, _folder, True)
        return _folder


def argv(name: str, *args: object) -> list[str]:
    """The command line of child ``name``; start it with ``cwd=working_folder()``."""
    return [sys.executable, "-P", "-m", MODULES[name], *map(str, args)]


def run(name: str, *args: object, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run child ``name`` to its end, capturing its output as text."""
    return subprocess.run(argv(name, *args), capture_output=True, text=True, cwd=working_folder(), timeout=timeout)
