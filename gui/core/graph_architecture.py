"""The ``Architecture`` a model file of ours declares, built instead from what ``resnet_graph`` found in a
graph: stem, stages, blocks and their layers with shapes, parameters and MACs, so the structure view, the
block view and the layer responses read a foreign file as they read ours."""

from __future__ import annotations

import numpy as np
from onnx import helper

from .architecture import Architecture, Block, Layer, Part, Shortcut, Stage
from .graph_index import GraphIndex
from .resnet_graph import AFFINE, CONVS, NORMS, Found, FoundBlock

WEIGHT_INPUT = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3}


def _attributes(node) -> dict:
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _chw(index: GraphIndex, tensor: str, layout: str) -> list[int]:
    shape = [d or 0 for d in (index.shapes.get(tensor) or [])]
    if len(shape) == 4:
        return [shape[3], shape[1], shape[2]] if layout == "NHWC" else shape[1:]
    return shape[1:]


def _numel(index: GraphIndex, name: str) -> int:
    shape = index.shapes.get(index.through(name)) or index.shapes.get(name) or []
    return int(np.prod([d or 0 for d in shape])) if shape else 0


def layers_of(index: GraphIndex, positions: list[int], prefix: str) -> list[Layer]:
    """The layers a run of nodes computes, in order: convolutions, norms (a BatchNormalization, or the
    multiply-and-add a converter wrote one as), ReLUs and pools. Casts, transposes and Q/DQ are not layers."""
    layers: list[Layer] = []
    affine_run = 0
    for position in positions:
        node = index.nodes[position]
        op, out = node.op_type, node.output[0]
        shape = _chw(index, out, "NCHW")
        # A norm or a ReLU keeps its input's shape; in a Keras graph it runs channels last, between the
        # transposes around each convolution, so its shape is the layer's before it, not its own tensor's.
        if op not in CONVS and layers and op not in ("MaxPool", "AveragePool"):
            shape = list(layers[-1].output_shape)
        channels = shape[0] if shape else 0
        if op in CONVS:
            affine_run = 0
            weight = node.input[WEIGHT_INPUT[op]]
            dims = [d or 0 for d in (index.shapes.get(weight) or index.shapes.get(index.through(weight)) or [])]
            attributes = _attributes(node)
            groups = int(attributes.get("group", 1))
            kernel = int(dims[2]) if len(dims) == 4 else 1
            stride = int(list(attributes.get("strides", [1]))[0])
            in_channels = int(dims[1]) * groups if len(dims) == 4 else 0
            spatial = int(np.prod(shape[1:])) if len(shape) == 3 else 0
            bias = _numel(index, node.input[2]) if len(node.input) > 2 and node.input[2] and op == "Conv" else 0
            layers.append(Layer(f"{prefix}.conv{sum(l.kind == 'conv' for l in layers) + 1}", "conv", in_channels,
                                int(dims[0]) if dims else channels, kernel, stride, groups,
                                int(np.prod(dims)) + bias if dims else bias,
                                int(dims[0]) * spatial * (in_channels // max(groups, 1)) * kernel * kernel
                                if dims else 0, shape))
        elif op in NORMS:
            layers.append(Layer(f"{prefix}.bn{len(layers)}", "norm", channels, channels, 1, 1, 1, 2 * channels, 0,
                                shape, "BN"))
        elif op in AFFINE and index.constant_inputs(node) and layers and layers[-1].kind == "conv":
            affine_run += 1
            if affine_run == 2:  # x·a + b after a convolution: a batch norm written out (a lone add is a bias)
                layers.append(Layer(f"{prefix}.bn{len(layers)}", "norm", channels, channels, 1, 1, 1, 2 * channels,
                                    0, shape, "BN"))
        elif op == "Relu":
            affine_run = 0
            layers.append(Layer(f"{prefix}.relu{len(layers)}", "relu", channels, channels, 1, 1, 1, 0, 0, shape))
        elif op in ("MaxPool", "AveragePool"):
            attributes = _attributes(node)
            kernel = int(list(attributes.get("kernel_shape", [1]))[0])
            stride = int(list(attributes.get("strides", [1]))[0])
            kind = "maxpool" if op == "MaxPool" else "avgpool"
            layers.append(Layer(f"{prefix}.{kind}", kind, channels, channels, kernel, stride, 1, 0, 0, shape))
    return layers


def _block(index: GraphIndex, found: Found, block: FoundBlock) -> Block:
    layers = layers_of(index, block.branch_nodes, block.name)
    shortcut_layers = layers_of(index, block.shortcut_nodes, f"{block.name}.downsample")
    out_shape = _chw(index, block.output, found.layout)
    in_shape = _chw(index, block.input, found.layout)
    channels = out_shape[0] if out_shape else 0
    layers.append(Layer(f"{block.name}.add", "add", channels, channels, 1, 1, 1, 0, 0, out_shape))
    if block.relu_after_add:
        layers.append(Layer(f"{block.name}.relu_out", "relu", channels, channels, 1, 1, 1, 0, 0, out_shape))
    convs = [l for l in layers if l.kind == "conv"]
    stride = max((l.stride for l in convs), default=1)
    kind = {2: "BasicBlock", 3: "Bottleneck"}.get(len(convs), f"{len(convs)}-convolution block")
    if block.pre_activation:
        kind += " (pre-activation)"
    shortcut = Shortcut("projection" if block.projection else "identity",
                        max((l.stride for l in shortcut_layers), default=1), shortcut_layers)
    return Block(block.name, kind, in_shape[0] if in_shape else 0, channels, stride,
                 max((l.groups for l in convs), default=1), layers, shortcut, out_shape,
                 sum(l.params for l in layers + shortcut_layers), sum(l.macs for l in layers + shortcut_layers),
                 convs[len(convs) // 2].out_channels if convs else None)


def describe_found(index: GraphIndex, found: Found, num_classes: int) -> Architecture | None:
    """The architecture of a found ResNet (or a plain network with a pool and a classifier); None when
    the graph shows neither."""
    if not found.blocks or found.classifier is None:
        return None
    stem_nodes = index.nodes_between(found.input_name, found.stem_output)
    stem_layers = layers_of(index, stem_nodes, "stem")
    stem = Part("stem", stem_layers, _chw(index, found.stem_output, found.layout), sum(l.params for l in stem_layers),
                sum(l.macs for l in stem_layers))
    stages = []
    for s, members in enumerate(found.stages):
        blocks = [_block(index, found, found.blocks[i]) for i in members]
        stages.append(Stage(f"layer{s + 1}", blocks, blocks[-1].output_shape, sum(b.params for b in blocks),
                            sum(b.macs for b in blocks)))
    weight = found.classifier.weight
    classes, features = weight.shape
    fc_params = weight.size + len(found.classifier.bias)
    head = Part("head", [Layer("avgpool", "avgpool", features, features, 0, 1, 1, 0, 0, [features]),
                         Layer("fc", "linear", features, classes, 1, 1, 1, fc_params, weight.size, [classes])],
                [classes], fc_params, weight.size)
    input_shape = [found.channels, found.height or 0, found.width or 0]
    kinds = {b.type for stage in stages for b in stage.blocks}
    return Architecture(input_shape, stem, stages, head, num_classes,
                        stem.params + sum(s.params for s in stages) + head.params,
                        stem.macs + sum(s.macs for s in stages) + head.macs, None,
                        kinds.pop() if len(kinds) == 1 else "mixed", True, False, "found", list(found.notes))
