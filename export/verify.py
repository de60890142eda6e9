"""An export checked against PyTorch: ONNX Runtime's logits on the logits' own scale, and the top-1
agreement of an fp16 or int8 file with its fp32 source.

Deep networks with random weights give logits in the hundreds or thousands (nothing normalises
them before training), and float32 sums of that size differ in the fourth decimal between two
correct implementations. So the tolerance is a share of the largest logit PyTorch gave, and the
report says what that scale was, next to the difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import ExportError
from .onnx_file import _cpu_session

VERIFY_BATCHES = (1, 3)  # both differ from the export's batch of 2, which proves the batch is dynamic
RELATIVE = 1e-4  # of the largest |logit|: float32 rounding in a deep net stays well under it
ABSOLUTE = 1e-5  # a floor, for logits near zero
MIN_AGREEMENT = 0.9  # fp16/int8 top-1 agreement below this fails verification of trained weights


@dataclass
class Verification:
    max_abs_diff: float
    scale: float  # the largest |logit| PyTorch gave on the verification inputs
    top1_equal: int
    inputs: int

    @property
    def relative(self) -> float:
        return self.max_abs_diff / self.scale if self.scale > 0 else 0.0

    def line(self) -> str:
        return (f"max |Δ| {self.max_abs_diff:.2e} on logits up to {self.scale:.3g} ({self.relative:.1e} of their "
                f"scale, {RELATIVE:g} allowed); top-1 equal on {self.top1_equal} of {self.inputs} inputs")

    def to_json(self) -> dict:
        return {"max_abs_diff": self.max_abs_diff, "logit_scale": self.scale, "relative": self.relative,
                "relative_allowed": RELATIVE, "top1_equal": self.top1_equal, "inputs": self.inputs,
                "batches": list(VERIFY_BATCHES)}


def verify_fp32(model: torch.nn.Module, path: Path, channels: int, size: int) -> Verification:
    """ONNX Runtime (CPU) against PyTorch eager at two batch sizes; raises ``ExportError`` on a mismatch."""
    session = _cpu_session(path)
    generator = torch.Generator().manual_seed(1)
    worst = scale = 0.0
    equal = inputs = 0
    for batch in VERIFY_BATCHES:
        x = torch.randn(batch, channels, size, size, generator=generator)
        with torch.no_grad():
            expected = model.eval()(x).numpy()
        (got,) = session.run(["logits"], {"input": x.numpy()})
        if got.shape != expected.shape:
            raise ExportError(f"verification failed: ORT gave logits {got.shape} at batch {batch}, "
                              f"PyTorch {expected.shape}")
        difference = float(np.abs(got - expected).max())
        largest = float(np.abs(expected).max())
        worst, scale = max(worst, difference), max(scale, largest)
        equal += int((got.argmax(1) == expected.argmax(1)).sum())
        inputs += batch
        if difference > ABSOLUTE + RELATIVE * largest:
            raise ExportError(f"verification failed: ORT and PyTorch logits differ by up to {difference:.3g} at batch "
                              f"{batch}, on logits up to {largest:.3g}: {difference / max(largest, 1e-12):.1e} of "
                              f"their scale, over the {RELATIVE:g} allowed")
    return Verification(worst, scale, equal, inputs)


def top1_agreement(reference: Path, candidate: Path, samples: np.ndarray) -> float:
    a, b = _cpu_session(reference, pruned=True), _cpu_session(candidate, pruned=True)
    hits = 0
    for start in range(0, len(samples), 32):
        chunk = samples[start:start + 32]
        hits += int((a.run(["logits"], {"input": chunk})[0].argmax(1)
                     == b.run(["logits"], {"input": chunk})[0].argmax(1)).sum())
    return hits / len(samples)
