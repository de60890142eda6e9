"""ResNet ONNX files written the way other tools write them, for the any-ResNet-file tests: torch.onnx's two
exporters on torchvision-compatible models, a pre-activation (v2) and a ResNet-D network as timm builds
them, Keras 3 (its own ONNX export, channels last), a model-zoo-style file, onnxslim, onnxconverter-common
fp16 and ONNX Runtime's dynamic and static quantization. None of them carries our metadata."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper
from torch import nn


def torch_export(module: nn.Module, path: Path, size: int, dynamo: bool, batch: int = 1) -> Path:
    """``module`` through torch.onnx: the TorchScript exporter (fixed batch, numbered tensor names) or
    the dynamo one (a dynamic batch), as a user of torchvision or timm would call it."""
    module = module.eval()
    example = torch.randn(batch, 3, size, size)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        if dynamo:
            torch.onnx.export(module, (example,), str(path), dynamo=True, external_data=False,
                              dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
        else:
            torch.onnx.export(module, (example,), str(path), dynamo=False, opset_version=17)
    return path


class PreActBlock(nn.Module):
    """He et al. (2016), "Identity Mappings in Deep Residual Networks": BN and ReLU before each conv, the
    addition last; the projection reads the pre-activated input, as timm's ResNetV2 does."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.BatchNorm2d(inplanes), nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.norm2, self.conv2 = nn.BatchNorm2d(planes), nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.downsample = (nn.Conv2d(inplanes, planes, 1, stride, bias=False)
                           if stride != 1 or inplanes != planes else None)

    def forward(self, x):
        pre = torch.relu(self.norm1(x))
        shortcut = self.downsample(pre) if self.downsample is not None else x
        return self.conv2(torch.relu(self.norm2(self.conv1(pre)))) + shortcut


class DownsampleAvg(nn.Module):
    """ResNet-D's shortcut (He et al. 2019, "Bag of Tricks"): average-pool, then a 1x1 conv and BN."""

    def __init__(self, inplanes: int, planes: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)
        self.conv, self.bn = nn.Conv2d(inplanes, planes, 1, bias=False), nn.BatchNorm2d(planes)

    def forward(self, x):
        return self.bn(self.conv(self.pool(x)))


class PostActBlock(nn.Module):
    def __init__(self, inplanes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False), nn.BatchNorm2d(planes)
        self.downsample = DownsampleAvg(inplanes, planes) if stride != 1 or inplanes != planes else None

    def forward(self, x):
        shortcut = self.downsample(x) if self.downsample is not None else x
        return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))) + shortcut)


class SmallTimmStyleResNet(nn.Module):
    """Two blocks in each of three stages, widths 16-32-64: pre-activation (ResNetV2) or ResNet-D."""

    def __init__(self, pre_activation: bool, classes: int = 5) -> None:
        super().__init__()
        block = PreActBlock if pre_activation else PostActBlock
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), *(
            [] if pre_activation else [nn.BatchNorm2d(16), nn.ReLU()]))
        layers, inplanes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            layers += [block(inplanes, planes, stride), block(planes, planes)]
            inplanes = planes
        self.stages = nn.Sequential(*layers)
        self.norm = nn.Sequential(nn.BatchNorm2d(64), nn.ReLU()) if pre_activation else nn.Identity()
        self.fc = nn.Linear(64, classes)
        torch.manual_seed(0)
        for m in self.modules():  # BN statistics that are not the identity, so folding them is visible
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)

    def forward(self, x):
        x = self.norm(self.stages(self.stem(x)))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


KERAS_TUTORIAL = textwrap.dedent('''
    import os, sys
    os.environ["KERAS_BACKEND"] = "torch"
    import keras
    from keras import layers

    def identity_block(x, filters):
        y = layers.Conv2D(filters, 3, padding="same")(x)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU()(y)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        y = layers.BatchNormalization()(y)
        return layers.ReLU()(layers.Add()([x, y]))

    def projection_block(x, filters):
        y = layers.Conv2D(filters, 3, strides=2, padding="same")(x)
        y = layers.BatchNormalization()(y)
        y = layers.ReLU()(y)
        y = layers.Conv2D(filters, 3, padding="same")(y)
        y = layers.BatchNormalization()(y)
        s = layers.BatchNormalization()(layers.Conv2D(filters, 1, strides=2)(x))
        return layers.ReLU()(layers.Add()([s, y]))

    keras.utils.set_random_seed(0)
    size = int(sys.argv[2])
    inputs = keras.Input((size, size, 3))
    x = layers.ReLU()(layers.BatchNormalization()(layers.Conv2D(16, 7, strides=2, padding="same")(inputs)))
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = identity_block(x, 16)
    x = projection_block(x, 32)
    x = identity_block(x, 32)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model(keras.ops.zeros((1, size, size, 3)))  # Keras exports only a model that has run once
    model.export(sys.argv[1], format="onnx")
''')


def keras_tutorial_resnet(path: Path, size: int = 64) -> Path:
    """The tutorial's Keras ResNet with a 2-class softmax head, exported by Keras 3 itself (torch backend:
    the graph is channels last, with transposes around each convolution)."""
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([sys.executable, "-c", KERAS_TUTORIAL, str(path), str(size)], capture_output=True,
                            text=True, env=env, timeout=600)
    assert result.returncode == 0 and path.exists(), result.stderr[-2000:]
    return path


def model_zoo_style(source: Path, path: Path) -> Path:
    """What the ONNX model zoo's older ResNets look like: input named ``data`` with a fixed batch of 1,
    every initializer also listed as a graph input, and a Softmax as the last node."""
    model = onnx.load(str(source))
    graph = model.graph
    old_input, old_output = graph.input[0].name, graph.output[0].name
    for node in graph.node:
        node.input[:] = ["data" if n == old_input else n for n in node.input]
    graph.input[0].name = "data"
    graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in graph.initializer)
    graph.node.append(helper.make_node("Softmax", [old_output], ["prob"], axis=1))
    classes = graph.output[0].type.tensor_type.shape.dim[1].dim_value
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("prob", onnx.TensorProto.FLOAT, [1, classes]))
    onnx.save(model, str(path))
    return path


def with_embedding_output(source: Path, path: Path) -> Path:
    """A graph whose first output is the pooled embedding and whose second is the logits."""
    model = onnx.load(str(source))
    pooled = next(n for n in model.graph.node if n.op_type in ("Flatten", "Reshape")).output[0]
    logits = list(model.graph.output)
    del model.graph.output[:]
    model.graph.output.append(helper.make_empty_tensor_value_info(pooled))
    model.graph.output.extend(logits)
    onnx.save(model, str(path))
    return path


def slimmed(source: Path, path: Path) -> Path:
    import onnxslim

    onnx.save(onnxslim.slim(onnx.load(str(source))), str(path))
    return path


def fp16(source: Path, path: Path, keep_io_types: bool) -> Path:
    """onnxconverter-common's float16 conversion, with float32 inputs and outputs kept or not."""
    from onnxconverter_common import float16

    with warnings.catch_warnings():  # it warns once for every weight too small for float16
        warnings.simplefilter("ignore")
        onnx.save(float16.convert_float_to_float16(onnx.load(str(source)), keep_io_types=keep_io_types), str(path))
    return path


def quantized(source: Path, path: Path, static: bool, size: int) -> Path:
    """ONNX Runtime's own int8 quantization: dynamic (ConvInteger/MatMulInteger) or static QDQ."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_dynamic, quantize_static

    if not static:
        quantize_dynamic(str(source), str(path))
        return path
    name = onnx.load(str(source)).graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self.batches = iter([{name: rng.standard_normal((1, 3, size, size), dtype=np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.batches, None)

    quantize_static(str(source), str(path), Reader(), quant_format=QuantFormat.QDQ)
    return path
