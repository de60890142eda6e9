"""PyTorch eager timing for ``resnet-studio bench``, run in a process of its own.

``python -m resnet_studio.models.eager_timing VARIANT CLASSES CHANNELS SIZE BATCH THREADS SECONDS``
prints one JSON line. It lives here because the app's side (gui/) never imports torch.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import torch

from .registry import build_model


def time_eager(variant: str, classes: int, channels: int, size: int, batch: int, threads: int,
               seconds: float) -> dict:
    torch.set_num_threads(threads)
    net = build_model(variant, num_classes=classes, in_channels=channels).eval()
    x = torch.randn(batch, channels, size, size)
    times: list[float] = []
    with torch.inference_mode():
        for _ in range(2):
            net(x)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline or len(times) < 5:
            start = time.perf_counter()
            net(x)
            times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"images_per_second": round(batch / median, 2), "latency_ms": round(median * 1000, 2), "runs": len(times)}


if __name__ == "__main__":
    name, *numbers = sys.argv[1:8]
    classes, channels, size, batch, threads = (int(n) for n in numbers[:5])
    print(json.dumps(time_eager(name, classes, channels, size, batch, threads, float(numbers[5]))))
