"""Time ONNX Runtime on the CPU in a process of its own (torch in the same process skews both).

``python -m resnet_studio.gui.cli.ort_timing MODEL --batch 8 [--outputs a,b] [--logits-only]``
prints one JSON line: images per second and median latency.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import onnx
import onnxruntime as ort

from resnet_studio.core.graph import logits_only
from resnet_studio.core.timing import timed


def session(model_bytes: bytes, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def measure(path: str, batch: int, outputs: list[str] | None, prune: bool, seconds: float, threads: int) -> dict:
    model = onnx.load(path)
    if prune:
        model = logits_only(model)
    s = session(model.SerializeToString(), threads)
    shape = [batch, *s.get_inputs()[0].shape[1:]]
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    return timed(lambda: s.run(outputs, {"input": x}), batch, seconds, min_runs=3)

def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--outputs", help="comma-separated output names (default: all)")
    p.add_argument("--logits-only", action="store_true", help="prune the graph to logits first")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = p.parse_args()
    outputs = a.outputs.split(",") if a.outputs else None
    print(json.dumps(measure(a.model, a.batch, outputs, a.logits_only, a.seconds, a.threads)))


if __name__ == "__main__":
    main()
