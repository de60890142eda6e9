"""PyTorch eager timing for ``resnet-studio bench``, run in a process of its own.

``python -m resnet_studio.models.eager_timing VARIANT CLASSES CHANNELS SIZE BATCH THREADS SECONDS``
prints one JSON line. It lives here because the app's side (gui/) never imports torch.
"""

from __future__ import annotations

import json
import sys

import torch

from resnet_studio.gui.core.timing import timed

from .registry import build_model


def time_eager(variant: str, classes: int, channels: int, size: int, batch: int, threads: int,
               seconds: float) -> dict:
    torch.set_num_threads(threads)
    net = build_model(variant, num_classes=classes, in_channels=channels).eval()
    x = torch.randn(batch, channels, size, size)
    with torch.inference_mode():
        return timed(lambda: net(x), batch, seconds)

if __name__ == "__main__":
    name, *numbers = sys.argv[1:8]
    classes, channels, size, batch, threads = (int(n) for n in numbers[:5])
    print(json.dumps(time_eager(name, classes, channels, size, batch, threads, float(numbers[5]))))
