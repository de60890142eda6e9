"""A random-weights export for timing, run as a child of ``resnet-studio bench`` (which never imports torch).

``python -m resnet_studio.export.random_export VARIANT PRECISION PATH`` writes PATH unverified and
prints one JSON line with the seconds it took. Speed does not depend on the weights; int8 calibrates on
synthetic inputs.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from .api import Prepared, export, prepare


def export_random(prepared: Prepared, precision: str, path: Path) -> float:
    """Export ``prepared`` unverified at ``precision``; returns the seconds the export took."""
    samples = None
    if precision == "int8":
        shape = (32, prepared.in_channels, prepared.image_size, prepared.image_size)
        samples = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    started = time.perf_counter()
    export(prepared, path, precision=precision, samples=samples, sample_name="synthetic", verify=False)
    return time.perf_counter() - started


if __name__ == "__main__":
    variant, precision, target = sys.argv[1:4]
    started = time.perf_counter()
    prepared = prepare(variant)
    export_random(prepared, precision, Path(target))
    print(json.dumps({"seconds": round(time.perf_counter() - started, 2)}))
