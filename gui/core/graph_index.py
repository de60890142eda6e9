"""An ONNX graph indexed for analysis: who produces and who consumes each tensor, which tensors are
constants, the shape of every tensor, and the values of small constants (torch-free, numpy only).

Shapes come from ONNX shape inference run on a light copy of the graph: large initializers become
typed inputs (their shapes are all inference needs), so a 100 MB model infers in milliseconds.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

# Nodes that pass a tensor on unchanged in meaning: followed through when tracing what feeds what.
PASS_THROUGH = {"Identity", "Cast", "Dropout", "QuantizeLinear", "DequantizeLinear", "CastLike",
                "DynamicQuantizeLinear"}
SMALL_CONSTANT = 4096  # elements: initializers this small keep their values in the light copy (shapes, axes)


@dataclass
class GraphIndex:
    model: onnx.ModelProto
    nodes: list[onnx.NodeProto]
    producer: dict[str, int] = field(default_factory=dict)  # tensor -> index of the node that makes it
    consumers: dict[str, list[int]] = field(default_factory=dict)
    initializers: dict[str, onnx.TensorProto] = field(default_factory=dict)
    constant: set[str] = field(default_factory=set)  # initializers, Constant outputs, and what only they feed
    shapes: dict[str, list[int | None]] = field(default_factory=dict)
    dtypes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, model: onnx.ModelProto, input_dims: list[int] | None = None) -> GraphIndex:
        """Index ``model``; ``input_dims`` fixes the image input's shape for shape inference."""
        graph = model.graph
        index = cls(model, list(graph.node), initializers={t.name: t for t in graph.initializer})
        for position, node in enumerate(index.nodes):
            for name in node.output:
                index.producer[name] = position
            for name in node.input:
                if name:
                    index.consumers.setdefault(name, []).append(position)
        index.constant = set(index.initializers)
        for node in index.nodes:  # graph order is topological
            if node.op_type == "Constant" or (node.input and all(not n or n in index.constant for n in node.input)):
                index.constant.update(node.output)
        index._infer_shapes(input_dims)
        return index

    def _small_constants(self) -> tuple[list[int], list[onnx.TensorProto]]:
        """The nodes that compute small constants (pads, shapes, axes) from small inputs, and their values.

        Shape inference cannot see through a Pad whose pads a Cast or a Concat computes (Keras writes
        its zero padding so); evaluated here once, they become plain initializers of the light copy.
        """
        small = {n for n, t in self.initializers.items() if _size(t) <= SMALL_CONSTANT}
        chosen = []
        for position, node in enumerate(self.nodes):
            if all(o in self.constant for o in node.output) and all(not n or n in small for n in node.input):
                chosen.append(position)
                small.update(node.output)
        if not chosen:
            return [], []
        from onnx.reference import ReferenceEvaluator

        outputs = [o for p in chosen for o in self.nodes[p].output]
        needed = sorted({n for p in chosen for n in self.nodes[p].input if n in self.initializers})
        graph = helper.make_graph([self.nodes[p] for p in chosen], "constants", [],
                                  [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outputs],
                                  [self.initializers[n] for n in needed])
        model = helper.make_model(graph, opset_imports=list(self.model.opset_import))
        try:
            values = ReferenceEvaluator(model).run(None, {})
        except Exception:  # noqa: BLE001 - an op the evaluator lacks: those shapes stay unknown
            return [], []
        return chosen, [numpy_helper.from_array(np.asarray(v), name) for name, v in zip(outputs, values)
                        if np.asarray(v).size <= SMALL_CONSTANT]

    def _infer_shapes(self, input_dims: list[int] | None) -> None:
        graph = self.model.graph
        folded, values = self._small_constants()
        known = {t.name for t in values}
        kept = [n for p, n in enumerate(graph.node) if p not in set(folded) or not set(n.output) <= known]
        light = helper.make_graph(
            kept, "light",
            [self._fixed_input(i, input_dims) for i in graph.input if i.name not in self.initializers]
            + [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
               for t in graph.initializer if _size(t) > SMALL_CONSTANT],
            list(graph.output), [t for t in graph.initializer if _size(t) <= SMALL_CONSTANT] + values)
        light_model = helper.make_model(light, opset_imports=list(self.model.opset_import))
        light_model.ir_version = self.model.ir_version
        try:
            inferred = onnx.shape_inference.infer_shapes(light_model, strict_mode=False, data_prop=True)
        except Exception:  # noqa: BLE001 - a graph inference cannot follow still gets what it can
            inferred = light_model
        for info in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
            tensor = info.type.tensor_type
            if tensor.HasField("shape"):
                self.shapes[info.name] = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
            self.dtypes[info.name] = tensor.elem_type
        for name, tensor in self.initializers.items():
            self.shapes[name], self.dtypes[name] = list(tensor.dims), tensor.data_type

    @staticmethod
    def _fixed_input(value_info: onnx.ValueInfoProto, dims: list[int] | None) -> onnx.ValueInfoProto:
        tensor = value_info.type.tensor_type
        current = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        if dims is None or len(dims) != len(current):
            return value_info
        return helper.make_tensor_value_info(value_info.name, tensor.elem_type,
                                             [c if c else d for c, d in zip(current, dims)])

    # Reading the graph ----------------------------------------------------------------------------------------

    def node_of(self, tensor: str) -> onnx.NodeProto | None:
        position = self.producer.get(tensor)
        return None if position is None else self.nodes[position]

    def rank(self, tensor: str) -> int:
        """The producing node's position: graph inputs and constants come first (-1)."""
        return self.producer.get(tensor, -1)

    def variable_inputs(self, node: onnx.NodeProto) -> list[str]:
        return [name for name in node.input if name and name not in self.constant]

    def constant_inputs(self, node: onnx.NodeProto) -> list[str]:
        return [name for name in node.input if name and name in self.constant]

    def through(self, tensor: str) -> str:
        """``tensor`` traced back through pass-through nodes (Identity, Cast, Q/DQ) to where it was made."""
        while True:
            node = self.node_of(tensor)
            if node is None or node.op_type not in PASS_THROUGH or len(self.variable_inputs(node)) != 1:
                return tensor
            tensor = self.variable_inputs(node)[0]

    def only_consumer(self, tensor: str) -> onnx.NodeProto | None:
        """The one node reading ``tensor``, looking past pass-through nodes; None if several read it."""
        while True:
            readers = self.consumers.get(tensor, [])
            if len(readers) != 1:
                return None
            node = self.nodes[readers[0]]
            if node.op_type in PASS_THROUGH and len(node.output) == 1:
                tensor = node.output[0]
                continue
            return node

    def lowest_common_ancestor(self, a: str, b: str) -> str | None:
        """The latest tensor both ``a`` and ``b`` are computed from: where a residual block's two paths part.

        Walks back from both at once, always expanding the tensor made last; the first tensor reached from
        both sides is the latest common one, since every path to it passes through later tensors first.
        """
        sides: dict[str, int] = {a: 1, b: 2} if a != b else {a: 3}
        heap = [(-self.rank(t), t) for t in sides]
        heapq.heapify(heap)
        seen: set[str] = set()
        while heap:
            _, tensor = heapq.heappop(heap)
            if tensor in seen:
                continue
            seen.add(tensor)
            if sides[tensor] == 3:
                made_by = self.node_of(tensor)
                # Dynamic quantization quantizes a tensor once for every convolution that reads it: the
                # paths part at the tensor itself, not at its quantized copy or its scale.
                return made_by.input[0] if made_by is not None and made_by.op_type == "DynamicQuantizeLinear" \
                    else tensor
            node = self.node_of(tensor)
            for parent in self.variable_inputs(node) if node is not None else ():
                sides[parent] = sides.get(parent, 0) | sides[tensor]
                heapq.heappush(heap, (-self.rank(parent), parent))
        return None

    def nodes_between(self, start: str, end: str) -> list[int]:
        """Positions of the nodes on any path from ``start`` to ``end`` (walking back from ``end``), in order."""
        found: set[int] = set()
        stack = [end]
        visited: set[str] = set()
        while stack:
            tensor = stack.pop()
            if tensor == start or tensor in visited:
                continue
            visited.add(tensor)
            position = self.producer.get(tensor)
            if position is None:
                continue
            found.add(position)
            stack.extend(self.variable_inputs(self.nodes[position]))
        return sorted(found)

    def value(self, tensor: str) -> np.ndarray | None:
        """The value of a constant tensor, folding the few ops weights pass through (DequantizeLinear, Cast,
        Transpose, Reshape, Identity); None where it is not a constant or takes another op."""
        if tensor in self.initializers:
            return numpy_helper.to_array(self.initializers[tensor])
        node = self.node_of(tensor)
        if node is None or tensor not in self.constant:
            return None
        if node.op_type == "Constant":
            attribute = next((a for a in node.attribute if a.name == "value"), None)
            return numpy_helper.to_array(attribute.t) if attribute is not None else None
        inputs = [self.value(name) if name else None for name in node.input]
        if any(v is None for v, name in zip(inputs, node.input) if name):
            return None
        return _fold(node, inputs)


def element_type(code: int) -> str:
    """An ONNX element type as numpy names it (float32, float16, int64), for messages."""
    try:
        return str(helper.tensor_dtype_to_np_dtype(code))
    except (KeyError, ValueError, TypeError):
        return "undefined"


def _fold(node: onnx.NodeProto, inputs: list[np.ndarray | None]) -> np.ndarray | None:
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    op = node.op_type
    if op in ("Identity", "Dropout"):
        return inputs[0]
    if op == "Cast":
        return inputs[0].astype(np.float32)
    if op == "DequantizeLinear":
        x, scale = inputs[0].astype(np.float32), inputs[1].astype(np.float32)
        zero = inputs[2].astype(np.float32) if len(inputs) > 2 and inputs[2] is not None else np.float32(0)
        axis = attributes.get("axis", 1)
        if scale.ndim == 1 and x.ndim > 1:
            shape = [1] * x.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), np.reshape(zero, shape) if np.ndim(zero) else zero
        return (x - zero) * scale
    if op == "Transpose":
        return np.transpose(inputs[0], attributes.get("perm"))
    if op == "Reshape":
        return np.reshape(inputs[0], [int(d) for d in inputs[1]])
    return None


def _size(tensor: onnx.TensorProto) -> int:
    return int(np.prod(tensor.dims)) if tensor.dims else 1
