"""PyTorch eager timing for ``resnet-studio bench``, run in a process of its own.

``python -m resnet_studio.models.eager_timing VARIANT CLASSES CHANNELS SIZE BATCH THREADS SECONDS MODE``
prints one JSON line. MODE is what a PyTorch user would reach for: ``fp32``, ``channels_last``, or
``bf16`` (autocast, channels-last; only where the CPU has bf16 instructions, else it says so).
It lives with the models, where torch may be imported (the app side, gui/, never imports it), and
runs as a child of the bench, so no process times torch and ONNX Runtime together.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from resnet_studio.core.timing import timed

from .registry import build_model

MODES = ("fp32", "channels_last", "bf16")
# x86 flags of native bf16 arithmetic; without them autocast emulates it, slower than fp32.
BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


def bf16_unsupported() -> str | None:
    """Why bf16 is not worth timing on this CPU, or None."""
    try:
        flags = {flag for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")
                 for flag in line.split(":", 1)[1].split()}
    except OSError:
        return "cannot read the CPU's flags"
    return None if flags & BF16_FLAGS else "this CPU has no native bf16 (avx512_bf16 or amx_bf16)"


def time_eager(variant: str, classes: int, channels: int, size: int, batch: int, threads: int,
               seconds: float, mode: str = "fp32") -> dict:
    torch.set_num_threads(threads)
    if mode == "bf16" and bf16_unsupported():
        return {"skipped": bf16_unsupported()}
    net = build_model(variant, num_classes=classes, in_channels=channels).eval()
    x = torch.randn(batch, channels, size, size)
    if mode != "fp32":
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
        return timed(lambda: net(x), batch, seconds)


if __name__ == "__main__":
    name, *numbers = sys.argv[1:8]
    classes, channels, size, batch, threads = (int(n) for n in numbers[:5])
    mode = sys.argv[8] if len(sys.argv) > 8 else "fp32"
    print(json.dumps(time_eager(name, classes, channels, size, batch, threads, float(numbers[5]), mode)))
