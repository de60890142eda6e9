"""The one timing loop and the one subprocess runner every benchmark uses (Qt-free, torch-free).

Each case runs in a process of its own, because torch and ONNX Runtime in one process slow each
other down; a case prints one JSON line, and every case reports the same keys.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable

from . import children


def timed(step: Callable[[], object], images: int, seconds: float, min_runs: int = 5, warmup: int = 2) -> dict:
    """Run ``step`` (which handles ``images`` images) for ``seconds`` and at least ``min_runs`` times.

    Returns ``images_per_second`` and ``latency_ms`` from the median run, and ``runs``.
    """
    for _ in range(warmup):
        step()
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < min_runs:
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"images_per_second": round(images / median, 2), "latency_ms": round(median * 1000, 2),
            "runs": len(times)}


def steady_state(small: dict, large: dict, small_images: int, large_images: int) -> dict:
    """Per-image cost once a pipeline runs: the difference of runs over two image counts, so that what
    each run pays once (start-up, filling and draining a prefetch queue) drops out."""
    per_image_ms = (large["latency_ms"] - small["latency_ms"]) / (large_images - small_images)
    return {"images_per_second": round(1000 / per_image_ms, 2) if per_image_ms > 0 else None,
            "latency_ms": round(per_image_ms, 3), "runs": small["runs"] + large["runs"],
            "images": [small_images, large_images]}


def run_case(child: str, *args: object) -> dict:
    """Child ``child`` (a name in ``children.MODULES``) in a fresh process: its last stdout line as JSON,
    or {"error": reason}."""
    out = children.run(child, *args)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def photo_jpegs(folder: Path, count: int) -> list[Path]:
    """``count`` 640x480 photo-like JPEGs (smooth colour and grain), the size a phone's preview saves."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        base = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
        grain = rng.integers(-12, 12, (480, 640, 3))
        picture = np.asarray(Image.fromarray(base).resize((640, 480), Image.Resampling.BICUBIC), np.int64) + grain
        paths.append(folder / f"{i:04d}.jpg")
        Image.fromarray(picture.clip(0, 255).astype(np.uint8)).save(paths[-1], quality=90)
    return paths
