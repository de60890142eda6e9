"""Export benchmark: how long an export takes, and what the activation outputs and int8 change.

``python -m resnet_studio.export.benchmark [--variant resnet50] [--batch 8] [--int8]``

Each ONNX Runtime timing runs in a process of its own, so figures within one run are
comparable; report ratios, since this machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from resnet_studio.core.timing import run_case


def ort_time(path: Path, batch: int, seconds: float, *flags: str) -> dict:
    return run_case("ort_timing", path, "--batch", batch, "--seconds", seconds, *flags)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--variant", default="resnet50")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=8.0, help="timing window per case")
    p.add_argument("--int8", action="store_true", help="also quantize (synthetic calibration) and time int8")
    args = p.parse_args()

    from .api import export, prepare
    from .random_export import export_random

    results: dict = {"variant": args.variant, "batch": args.batch, "cpu_threads": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        full, plain = Path(tmp) / "full.onnx", Path(tmp) / "plain.onnx"
        started = time.perf_counter()
        prepared = prepare(args.variant)
        report = export(prepared, full)
        results["export_with_verify_s"] = round(time.perf_counter() - started, 2)
        results["raw_export_s"] = report.export_seconds
        results["verify_s"] = report.verify_seconds
        export(prepared, plain, activations=False, verify=False)
        results["size_with_activations_mb"] = round(full.stat().st_size / 1e6, 2)
        results["size_logits_only_mb"] = round(plain.stat().st_size / 1e6, 2)
        cases = {
            "all_outputs": ort_time(full, args.batch, args.seconds),
            "logits_requested": ort_time(full, args.batch, args.seconds, "--outputs", "logits"),
            "logits_only_pruned": ort_time(full, args.batch, args.seconds, "--logits-only"),
            "exported_without_activations": ort_time(plain, args.batch, args.seconds),
        }
        if args.int8:
            quantized = Path(tmp) / "int8.onnx"
            results["int8_quantize_s"] = round(export_random(prepared, "int8", quantized), 2)
            cases["int8_logits_only_pruned"] = ort_time(quantized, args.batch, args.seconds, "--logits-only")
        results["ort"] = cases
    base = cases["logits_only_pruned"]["images_per_second"]
    results["ratios"] = {name: round(case["images_per_second"] / base, 3) for name, case in cases.items()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
