"""Find the ResNet in an ONNX graph that nobody on this project wrote (Qt-free, torch-free).

From the graph alone: the image input and its layout (NCHW, or NHWC behind a Transpose as Keras writes
it), every residual block (the ``Add`` of two paths that leave one tensor: the branch F(x) with its
convolutions, and the shortcut, the tensor itself or its projection), the stem before the first block,
the stages (a projection starts one), the global pool and the classifier with its weights, the output
the user reads (logits, or probabilities when the file ends in a Softmax or a Sigmoid), and the precision
the graph really runs. Post-activation (v1) and pre-activation (v2) blocks, grouped convolutions, folded
or separate batch norms, QDQ and QOperator int8 and fp16 graphs are all the same pattern here.

What cannot be recognised is said plainly in ``Found.message``, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper

from .graph_index import PASS_THROUGH, GraphIndex, element_type
from .model_io import INPUT_TYPES

CONVS = {"Conv", "ConvInteger", "QLinearConv"}
NORMS = {"BatchNormalization", "InstanceNormalization"}
AFFINE = {"Mul", "Add", "Sub", "Div"}  # with a constant operand: a decomposed norm or a bias
ACTIVATIONS = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "Elu", "Selu"}
POOLS = {"GlobalAveragePool", "ReduceMean", "AveragePool", "GlobalMaxPool", "ReduceMax"}
CLASSIFIERS = {"Gemm", "MatMul", "MatMulInteger", "QLinearMatMul"}
RESHAPES = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose"}


@dataclass
class FoundBlock:
    name: str  # layerS.B, torchvision's naming
    input: str  # x: the tensor both paths leave from (after a pre-activation walk back)
    branch: str  # F(x): the Add's input on the path with the convolutions
    shortcut: str  # the Add's other input: x itself, or its projection
    output: str  # after the Add, and its ReLU where there is one
    add: str  # the Add's output
    branch_nodes: list[int]
    shortcut_nodes: list[int]
    projection: bool
    relu_after_add: bool
    pre_activation: bool


@dataclass
class Classifier:
    node: int
    weight: np.ndarray  # [classes, features] float32, dequantized where the file stores it quantized
    bias: np.ndarray  # [classes]


@dataclass
class Found:
    input_name: str
    layout: str  # "NCHW" or "NHWC"
    input_dtype: str  # "float32" or "float16"
    input_dims: list[int | None]  # as the file declares them, batch first
    channels: int
    height: int | None
    width: int | None
    output: str  # the graph output the classes come from
    output_kind: str  # "logits", "probabilities" (a Softmax at the end) or "sigmoid" (one class)
    classes: int | None
    precision: str  # fp32, fp16, int8 (QDQ), int8 (QOperator), int8 (dynamic)
    blocks: list[FoundBlock] = field(default_factory=list)
    stages: list[list[int]] = field(default_factory=list)  # block indices per stage
    stem_output: str | None = None
    pool_input: str | None = None  # the last feature map before the global pool: the CAM's input
    features: str | None = None  # the pooled vector the classifier reads
    classifier: Classifier | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def residual(self) -> bool:
        return bool(self.blocks)

    @property
    def message(self) -> str:
        if self.blocks:
            stages = f"{len(self.stages)} stage" + ("s" if len(self.stages) != 1 else "")
            return f"found: {len(self.blocks)} blocks, {stages}"
        if self.classifier is not None:
            return "no residual blocks found: shown as a plain network"
        return "not a ResNet: predictions only"


class NotAClassifier(ValueError):
    """The graph has no image input or no class output a classifier would have."""


def analyse(model: onnx.ModelProto, crop: int | None = None) -> tuple[Found, GraphIndex]:
    """Everything the app can find in ``model``'s graph, and the index it was found in; ``crop`` sizes a
    dynamic input for shape inference."""
    index = GraphIndex.of(model)
    found = _inputs_and_outputs(index)
    if crop and (found.height is None or found.width is None):
        dims = [1, crop, crop, found.channels] if found.layout == "NHWC" else [1, found.channels, crop, crop]
        index = GraphIndex.of(model, dims)
    elif found.input_dims and found.input_dims[0] in (None, 0):
        index = GraphIndex.of(model, [1, *found.input_dims[1:]])
    found.precision = _precision(index)
    found.blocks = _blocks(index)
    found.stages = _stages(found.blocks)
    if found.blocks:
        found.stem_output = found.blocks[0].input
        pre = sum(b.pre_activation for b in found.blocks)
        found.notes.append(f"{'pre' if pre > len(found.blocks) // 2 else 'post'}-activation blocks")
    _head(index, found)
    if found.layout == "NHWC":
        found.notes.append("NHWC layout (channels last), as Keras writes it")
    return found, index


def _inputs_and_outputs(index: GraphIndex) -> Found:
    graph = index.model.graph
    inputs = [i for i in graph.input if i.name not in index.initializers]
    if len(inputs) != 1:
        raise NotAClassifier(f"expected one image input, found {len(inputs)}")
    image = inputs[0]
    tensor = image.type.tensor_type
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
    dtype = INPUT_TYPES.get(tensor.elem_type)
    if dtype is None or len(dims) != 4:
        raise NotAClassifier(f"input '{image.name}' should be a 4-D float32 or float16 image batch, found "
                             f"{element_type(tensor.elem_type)} of rank {len(dims)}")
    layout = _layout(index, image.name, dims)
    channels, height, width = (dims[3], dims[1], dims[2]) if layout == "NHWC" else (dims[1], dims[2], dims[3])
    output, kind = _class_output(index)
    classes = index.shapes.get(output, [None, None])[-1] if output else None
    return Found(image.name, layout, dtype, dims, channels, height, width, output, kind, classes, "fp32")


def _layout(index: GraphIndex, name: str, dims: list[int | None]) -> str:
    """NHWC when the input reaches its first convolution through a Transpose to channels first."""
    frontier, seen = [name], set()
    while frontier:
        tensor = frontier.pop(0)
        if tensor in seen:
            continue
        seen.add(tensor)
        for position in index.consumers.get(tensor, []):
            node = index.nodes[position]
            if node.op_type in CONVS:
                return "NCHW"
            if node.op_type == "Transpose":
                perm = list(next((helper.get_attribute_value(a) for a in node.attribute if a.name == "perm"), []))
                if perm == [0, 3, 1, 2]:
                    return "NHWC"
            frontier.extend(node.output)
    return "NHWC" if dims[3] in (1, 3) and dims[1] not in (1, 3) else "NCHW"


def _class_output(index: GraphIndex) -> tuple[str | None, str]:
    """The graph output that holds the classes, picked by what makes it (a classifier, a Softmax), never
    by its position: an embedding output before the logits is not the logits."""
    candidates = []
    for output in index.model.graph.output:
        shape = index.shapes.get(output.name) or [d.dim_value or None for d in output.type.tensor_type.shape.dim]
        if len(shape) != 2:
            continue
        kind, score = "logits", 0
        tensor = output.name
        for _ in range(12):  # back through reshapes and pass-throughs to what computed it
            node = index.node_of(tensor)
            if node is None:
                break
            if node.op_type == "Softmax":
                kind, score = "probabilities", 3
                break
            if node.op_type == "Sigmoid" and shape[1] == 1:
                kind, score = "sigmoid", 3
                break
            if node.op_type in CLASSIFIERS or (node.op_type == "Add" and index.constant_inputs(node)):
                score = 2
                break
            if node.op_type in POOLS:
                score = -1  # pooled features, an embedding
                break
            if node.op_type not in PASS_THROUGH | RESHAPES or not index.variable_inputs(node):
                break
            tensor = index.variable_inputs(node)[0]
        candidates.append((score, index.rank(output.name), output.name, kind))
    if not candidates:
        return None, "logits"
    _, _, name, kind = max(candidates)
    return name, kind


def _precision(index: GraphIndex) -> str:
    ops = {node.op_type for node in index.nodes}
    if ops & {"QLinearConv", "QLinearMatMul"}:
        return "int8 (QOperator)"
    if ops & {"ConvInteger", "MatMulInteger", "DynamicQuantizeLinear"}:
        return "int8 (dynamic)"
    if "DequantizeLinear" in ops and any(node.op_type == "Conv" and index.node_of(node.input[1]) is not None
                                         and index.node_of(node.input[1]).op_type == "DequantizeLinear"
                                         for node in index.nodes):
        return "int8 (QDQ)"
    conv_weights = [index.initializers.get(node.input[1]) for node in index.nodes if node.op_type == "Conv"]
    weight_types = {w.data_type for w in conv_weights if w is not None}
    if not weight_types:  # weights behind a Cast (onnxconverter-common with float32 I/O)
        weight_types = {index.initializers[n].data_type for node in index.nodes if node.op_type == "Cast"
                        for n in node.input if n in index.initializers}
    return "fp16" if onnx.TensorProto.FLOAT16 in weight_types else "fp32"


def _convs(index: GraphIndex, positions: list[int]) -> int:
    return sum(index.nodes[p].op_type in CONVS for p in positions)


def _blocks(index: GraphIndex) -> list[FoundBlock]:
    """Every residual Add, in graph order, with its input, both paths and its output."""
    raw = []
    for position, node in enumerate(index.nodes):
        if node.op_type not in ("Add", "Sum") or len(node.input) != 2 or index.constant_inputs(node):
            continue
        a, b = node.input
        if not _same_shape(index.shapes.get(a), index.shapes.get(b)):
            continue
        fork = index.lowest_common_ancestor(a, b)
        if fork is None:
            continue
        paths = {side: index.nodes_between(fork, side) for side in (a, b)}
        branch = max((a, b), key=lambda side: (_convs(index, paths[side]), len(paths[side])))
        shortcut = b if branch == a else a
        if _convs(index, paths[branch]) < 1 or _convs(index, paths[shortcut]) > 1:
            continue  # two convolution paths: an inception-style join, not a residual block
        raw.append((position, fork, branch, shortcut, node.output[0], paths))
    blocks: list[FoundBlock] = []
    for position, fork, branch, shortcut, added, paths in raw:
        after = index.only_consumer(added)
        relu = after is not None and after.op_type == "Relu"
        previous = blocks[-1].output if blocks else None
        # A pre-activation (v2) block starts with its norm and ReLU, before the first convolution (on the
        # branch, or before the fork where the projection reads the pre-activated input too). A missing
        # ReLU after the addition is no sign: a QDQ quantizer folds it into the quantization.
        entry, crossed = _block_input(index, fork, previous)
        first = next((index.nodes[p] for p in paths[branch] if index.nodes[p].op_type not in PASS_THROUGH | RESHAPES),
                     None)
        pre = crossed or (first is not None and first.op_type in NORMS)
        blocks.append(FoundBlock("", entry, branch, shortcut, after.output[0] if relu else added, added,
                                 paths[branch], paths[shortcut], _convs(index, paths[shortcut]) == 1, relu, pre))
    return blocks


def _same_shape(a: list | None, b: list | None) -> bool:
    """Both 4-D and equal wherever both are known (shape inference loses sides in some Keras graphs)."""
    return bool(a and b) and len(a) == len(b) == 4 and all(x is None or y is None or x == y for x, y in zip(a, b))


def _block_input(index: GraphIndex, fork: str, previous: str | None) -> tuple[str, bool]:
    """The block's own input: the fork itself, or, where a pre-activation (norm and ReLU) or only casts,
    transposes and Q/DQ come between the previous block's output (or the stem's last conv or pool) and the
    fork, that tensor; and whether a norm or an activation was crossed on the way (a pre-activation)."""
    tensor, steps, crossed = fork, 0, False
    while tensor != previous:
        node = index.node_of(tensor)
        if node is None or len(index.variable_inputs(node)) != 1 or steps > 8:
            break
        if not (node.op_type in NORMS | ACTIVATIONS | PASS_THROUGH | {"Transpose"}
                or (node.op_type in AFFINE and index.constant_inputs(node))):
            break
        crossed = crossed or node.op_type in NORMS | ACTIVATIONS
        tensor, steps = index.variable_inputs(node)[0], steps + 1
    if previous is not None and tensor == previous:
        return previous, crossed
    if previous is None and index.node_of(tensor) is not None and index.node_of(tensor).op_type in {"MaxPool", *CONVS}:
        return tensor, crossed
    return fork, False


def _stages(blocks: list[FoundBlock]) -> list[list[int]]:
    """A projection shortcut starts a stage (it changes the shape), and so does the first block."""
    stages: list[list[int]] = []
    for i, block in enumerate(blocks):
        if not stages or block.projection:
            stages.append([])
        stages[-1].append(i)
    for s, members in enumerate(stages):
        for b, i in enumerate(members):
            blocks[i].name = f"layer{s + 1}.{b}"
    return stages


def _head(index: GraphIndex, found: Found) -> None:
    """The global pool after the last block (or the last feature map), and the classifier that follows."""
    start = found.blocks[-1].output if found.blocks else None
    begin = index.rank(start) + 1 if start else 0
    pool = next((p for p in range(begin, len(index.nodes)) if _is_global_pool(index, index.nodes[p], found)), None)
    if pool is None:
        found.notes.append("no global pool found")
        return
    found.pool_input = index.variable_inputs(index.nodes[pool])[0]
    tensor = index.nodes[pool].output[0]
    for _ in range(12):  # forward through reshapes to the classifier
        node = index.only_consumer(tensor)
        if node is None:
            break
        if node.op_type in CLASSIFIERS:
            found.features = index.through(index.variable_inputs(node)[0])
            found.classifier = _classifier(index, index.nodes.index(node))
            break
        if node.op_type not in RESHAPES | PASS_THROUGH:
            break
        tensor = node.output[0]
    if found.classifier is None:
        found.notes.append("no classifier found after the global pool")


def _is_global_pool(index: GraphIndex, node: onnx.NodeProto, found: Found) -> bool:
    if node.op_type in ("GlobalAveragePool", "GlobalMaxPool"):
        return True
    if node.op_type not in ("ReduceMean", "AveragePool", "ReduceMax"):
        return False
    data = index.variable_inputs(node)
    shape = index.shapes.get(data[0]) if data else None
    if node.op_type == "AveragePool":
        kernel = next((list(helper.get_attribute_value(a)) for a in node.attribute if a.name == "kernel_shape"), [])
        return bool(shape) and len(shape) == 4 and kernel == shape[2:]
    axes = next((list(helper.get_attribute_value(a)) for a in node.attribute if a.name == "axes"), None)
    if axes is None and len(node.input) > 1:
        value = index.value(node.input[1])
        axes = [int(v) for v in value] if value is not None else None
    spatial = {1, 2, -3, -2} if found.layout == "NHWC" else {2, 3, -2, -1}
    return axes is not None and len(axes) == 2 and set(axes) <= spatial


def _classifier(index: GraphIndex, position: int) -> Classifier | None:
    """The classifier's weight as [classes, features] float32, and its bias; None where it cannot be read."""
    node = index.nodes[position]
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "Gemm":
        weight = index.value(node.input[1])
        if weight is None:
            return None
        weight = weight if attributes.get("transB", 0) else weight.T
        bias = index.value(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        return Classifier(position, weight.astype(np.float32), _bias(bias, len(weight)))
    if node.op_type == "QLinearMatMul":
        b, scale, zero = (index.value(node.input[i]) for i in (3, 4, 5))
        if b is None or scale is None:
            return None
        weight = ((b.astype(np.float32) - (zero if zero is not None else 0)) * scale).T
        return Classifier(position, weight, _following_bias(index, node.output[0], len(weight)))
    weight = index.value(node.input[1])
    if weight is None:
        return None
    if node.op_type == "MatMulInteger":
        zero = index.value(node.input[3]) if len(node.input) > 3 and node.input[3] else 0
        weight = (weight.astype(np.float32) - zero) * _dynamic_scale(index, node.output[0], weight.shape[1])
    weight = weight.T.astype(np.float32)
    return Classifier(position, weight, _following_bias(index, node.output[0], len(weight)))


def _following_bias(index: GraphIndex, tensor: str, classes: int) -> np.ndarray:
    """The constant a MatMul's output is added to next (through casts and the dequantizing multiplies)."""
    for _ in range(6):
        node = index.only_consumer(tensor)
        if node is None:
            break
        if node.op_type == "Add" and index.constant_inputs(node):
            return _bias(index.value(index.constant_inputs(node)[0]), classes)
        if node.op_type not in PASS_THROUGH | {"Mul"}:
            break
        tensor = node.output[0]
    return np.zeros(classes, np.float32)


def _dynamic_scale(index: GraphIndex, tensor: str, classes: int) -> np.ndarray:
    """The weight scale ORT's dynamic quantization multiplies a MatMulInteger's output by (per class or one)."""
    scale = np.float32(1)
    for _ in range(6):
        node = index.only_consumer(tensor)
        if node is None or node.op_type not in {"Cast", "Mul"}:
            break
        if node.op_type == "Mul":
            # The scale is the weight's (a constant) times the input's (computed per run): the constant
            # sits on this Mul, or on the Mul that made the combined scale.
            makers = [index.node_of(n) for n in index.variable_inputs(node)]
            names = index.constant_inputs(node) or [name for maker in makers if maker is not None
                                                    and maker.op_type == "Mul" for name in index.constant_inputs(maker)]
            for name in names:
                value = index.value(name)
                if value is not None and value.size in (1, classes):
                    scale = scale * value.astype(np.float32).reshape(-1)
        tensor = node.output[0]
    return scale


def _bias(value: np.ndarray | None, classes: int) -> np.ndarray:
    if value is None or value.size != classes:
        return np.zeros(classes, np.float32)
    return value.astype(np.float32).reshape(classes)
