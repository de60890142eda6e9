"""How fast the app reads and runs ResNet files other tools wrote, against our own export of the same network.

    python -m resnet_studio.export.foreign_benchmark --variant resnet50 [--keras] [--seconds 5]

Writes the files with the tools themselves (torch.onnx's TorchScript and dynamo exporters, onnxslim,
ORT's static QDQ quantization, and Keras 3's ResNet50 with ``--keras``), then for each: the time
``read_model`` takes (graph analysis included; the median of three) and img/s at batch 8 of the
logits-only session, each case in this process one after another. Ratios compare each file with our
export of the same variant at the same precision.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from resnet_studio.core import children



def _torch_files(variant: str, folder: Path) -> dict[str, Path]:
    import torch

    from resnet_studio.models import build_model

    model = build_model(variant).eval()
    files = {}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        for name, dynamo in (("torch.onnx TorchScript", False), ("torch.onnx dynamo", True)):
            path = folder / f"{'dynamo' if dynamo else 'torchscript'}.onnx"
            extra = {"dynamic_shapes": {"x": {0: torch.export.Dim("batch")}}, "external_data": False} if dynamo else \
                {"dynamic_axes": {"input": {0: "batch"}}, "input_names": ["input"], "opset_version": 17}
            torch.onnx.export(model, (torch.randn(2, 3, 224, 224),), str(path), dynamo=dynamo, **extra)
            files[name] = path
    return files


def _derived(files: dict[str, Path], folder: Path) -> None:
    import onnx
    import onnxslim
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    source = files["torch.onnx TorchScript"]
    onnx.save(onnxslim.slim(onnx.load(str(source))), str(folder / "slim.onnx"))
    files["onnxslim"] = folder / "slim.onnx"
    name = onnx.load(str(source)).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.batches = iter([{name: rng.standard_normal((1, 3, 224, 224), dtype=np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(source), str(folder / "qdq.onnx"), Reader(), quant_format=QuantFormat.QDQ)
    files["ORT quantize_static QDQ (int8)"] = folder / "qdq.onnx"


def _measure(path: Path, seconds: float) -> dict:
    from resnet_studio.core.engine import Engine
    from resnet_studio.core.model_file import read_model
    from resnet_studio.core.session import SessionPool

    loads = []
    for _ in range(3):
        started = time.perf_counter()
        info = read_model(path)
        loads.append(time.perf_counter() - started)
    engine = Engine(SessionPool("cpu", runtime="onnxruntime"))
    batch = np.random.default_rng(0).standard_normal((8, 3, 224, 224), dtype=np.float32)
    engine.pool.run(info, batch, [info.output.name])
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        engine.pool.run(info, batch, [info.output.name])
        done += len(batch)
    found = info.discovery.summary() if info.discovery else "ours"
    return {"load_s": round(statistics.median(loads), 3), "images_per_second": round(done / (time.perf_counter()
            - started), 1), "precision": info.precision, "found": found}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--variant", default="resnet50")
    p.add_argument("--keras", action="store_true", help="also Keras 3's ResNet50 (needs keras)")
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args(argv)
    from resnet_studio.export.api import export, prepare

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours = {"ours, fp32": folder / "ours.onnx", "ours, int8": folder / "ours-int8.onnx"}
        prepared = prepare(args.variant)
        export(prepared, ours["ours, fp32"], verify=False)
        calibration = np.random.default_rng(0).standard_normal((8, 3, 224, 224), dtype=np.float32)
        export(prepared, ours["ours, int8"], precision="int8", verify=False, samples=calibration)
        files = {**ours, **_torch_files(args.variant, folder)}
        _derived(files, folder)
        if args.keras:
            keras = folder / "keras.onnx"
            made = children.run("keras_resnet50", keras)
            if made.returncode != 0:
                print(f"the Keras export failed: {made.stderr.strip()[-300:]}", file=sys.stderr)
                return 1
            files["Keras 3 ResNet50 (NHWC)"] = keras
        rows = {name: _measure(path, args.seconds) for name, path in files.items()}
    for name, row in rows.items():
        base = rows["ours, int8" if row["precision"].startswith("int8") else "ours, fp32"]["images_per_second"]
        row["speed_vs_ours"] = round(row["images_per_second"] / base, 3)
    print(json.dumps({"variant": args.variant, "batch": 8, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
