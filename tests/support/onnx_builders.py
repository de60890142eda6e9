"""Small ONNX graphs built by hand, standing in for files from other tools."""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10  # ONNX Runtime 1.31 reads IR versions up to 13


def _model(graph, metadata: dict | None = None) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = IR_VERSION
    if metadata:
        helper.set_model_props(model, {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()})
    return model


def third_party_classifier(size: int | None = 224, classes: int = 1000, channels: int = 3,
                           batch: int | str = "N", real_classes: int | None = None) -> onnx.ModelProto:
    """Conv -> ReLU -> global pool -> Gemm, with no metadata of ours, like a file from another exporter.

    ``batch`` fixes the batch size; ``real_classes`` makes the graph compute more scores than it declares.
    """
    rng = np.random.default_rng(0)
    dims = [batch, channels, size or "H", size or "W"]
    x = helper.make_tensor_value_info("data", TensorProto.FLOAT, dims)
    y = helper.make_tensor_value_info("prob", TensorProto.FLOAT, [batch, classes])
    computed = real_classes or classes
    inits = [numpy_helper.from_array(rng.standard_normal((8, channels, 3, 3)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.standard_normal((computed, 8)).astype(np.float32), "w2"),
             numpy_helper.from_array(np.zeros(computed, np.float32), "b2")]
    nodes = [helper.make_node("Conv", ["data", "w1"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "w2", "b2"], ["prob"], transB=1)]
    return _model(helper.make_graph(nodes, "third_party", [x], [y], inits))


def endless_loop_classifier(size: int = 28) -> onnx.ModelProto:
    """A classifier whose logits come out of a Loop with a trip count of 2**62: it never finishes."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, size, size])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Identity", ["v_in"], ["v_out"])],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)])
    inits = [numpy_helper.from_array(np.array(2**62, np.int64), "trips"),
             numpy_helper.from_array(np.array(True), "cond"),
             numpy_helper.from_array(np.ones((size * size, 10), np.float32), "w")]
    nodes = [helper.make_node("Flatten", ["input"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["scores"]),
             helper.make_node("Loop", ["trips", "cond", "scores"], ["logits"], body=body)]
    return _model(helper.make_graph(nodes, "endless", [x], [y], inits))


def colour_cam_model(size: int = 8) -> onnx.ModelProto:
    """A model whose CAM is known: the last "block" is ReLU(input) and fc is the identity.

    So class c's CAM is exactly the image's channel c (normalised), and the logits are channel means.
    """
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, size, size])
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3]),
               helper.make_tensor_value_info("act.layer4.0", TensorProto.FLOAT, ["batch", 3, size, size]),
               helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 3])]
    inits = [numpy_helper.from_array(np.eye(3, dtype=np.float32), "fc.weight"),
             numpy_helper.from_array(np.zeros(3, np.float32), "fc.bias")]
    nodes = [helper.make_node("Relu", ["input"], ["act.layer4.0"]),
             helper.make_node("GlobalAveragePool", ["act.layer4.0"], ["pooled"]),
             helper.make_node("Flatten", ["pooled"], ["features"]),
             helper.make_node("Gemm", ["features", "fc.weight", "fc.bias"], ["logits"], transB=1)]
    metadata = {
        "labels": ["red", "green", "blue"],
        "preprocess": {"resize": size, "crop": size, "interpolation": "bilinear", "mean": [0, 0, 0],
                       "std": [1, 1, 1], "color": "RGB"},
        "variant": "colour_probe",
        "weights": {"source": "file", "trained": True, "file": "hand-built"},
        "metrics": {},
        "precision": "fp32",
        "activations": {"outputs": ["act.layer4.0"], "features": "features", "cam_layer": "act.layer4.0",
                        "fc_weight": "fc.weight", "fc_bias": "fc.bias"},
    }
    return _model(helper.make_graph(nodes, "colour_cam", [x], outputs, inits), metadata)


def save(model: onnx.ModelProto, path) -> str:
    onnx.save_model(model, str(path))
    return str(path)
