"""fp16 and int8 twins of an exported fp32 file."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np

from .errors import ExportError


def to_fp16(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(source))
    # Inputs and outputs stay float32 so callers need not change; the graph runs in half precision.
    half = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=False)
    _topological_sort(half.graph)  # the converter appends its input casts after their consumers
    onnx.save_model(half, str(target))


def _topological_sort(graph) -> None:
    available = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(name in available for name in n.input)]
        if not ready:
            raise ExportError("the converted graph has a cycle or a dangling input")
        for node in ready:
            available.update(node.output)
        ordered.extend(ready)
        pending = [n for n in pending if all(n is not r for r in ready)]
    del graph.node[:]
    graph.node.extend(ordered)


class _Reader:
    """ORT calibration reader over a preprocessed [N, C, H, W] float32 array."""

    def __init__(self, samples: np.ndarray, batch: int = 16) -> None:
        self._batches = iter([samples[i:i + batch] for i in range(0, len(samples), batch)])

    def get_next(self):
        chunk = next(self._batches, None)
        return None if chunk is None else {"input": chunk}


def to_int8(source: Path, target: Path, calibration: np.ndarray) -> None:
    """Static QDQ: per-channel int8 weights, uint8 activations (U8S8, what x86 VNNI runs fast).

    The fc layer stays float: it costs nothing to keep, and its weights must stay readable for CAM.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    CalibrationDataReader.register(_Reader)
    fc_nodes = [n.name for n in onnx.load(str(source)).graph.node if n.op_type in ("Gemm", "MatMul")]
    prepped = target.with_name(target.name + ".pre.onnx")
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            logging.getLogger().setLevel(logging.ERROR)
            quant_pre_process(str(source), str(prepped), skip_symbolic_shape=True)
            quantize_static(str(prepped), str(target), _Reader(calibration), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            nodes_to_exclude=fc_nodes)
    finally:
        prepped.unlink(missing_ok=True)
    # Quantization tools drop metadata_props; carry them over.
    original, quantized = onnx.load(str(source)), onnx.load(str(target))
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(original.metadata_props)
    quantized.producer_name, quantized.producer_version = original.producer_name, original.producer_version
    onnx.save_model(quantized, str(target))
