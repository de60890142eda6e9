"""Edits of an ONNX graph in memory; the file on disk is never re-saved."""

from __future__ import annotations

import onnx

# Field numbers of onnx.proto3 (ModelProto.graph; GraphProto.node, .input, .output and .value_info).
_MODEL_GRAPH, _GRAPH_NODE, _GRAPH_INPUT, _GRAPH_OUTPUT, _GRAPH_VALUE_INFO = 7, 1, 11, 12, 13


def logits_only(model: onnx.ModelProto, logits: str = "logits") -> onnx.ModelProto:
    """Remove, in place, every output but ``logits`` and the nodes only they needed; returns ``model``."""
    graph = model.graph
    kept = _needed_nodes([(node.input, node.output) for node in graph.node], {logits})
    needed = {name for index in kept for name in graph.node[index].input} | {logits}
    for items, keep in ((graph.node, lambda i, node: i in kept),
                        (graph.initializer, lambda i, tensor: tensor.name in needed),
                        (graph.value_info, lambda i, info: info.name in needed),
                        (graph.output, lambda i, output: output.name == logits)):
        for index in reversed(range(len(items))):
            if not keep(index, items[index]):
                del items[index]
    return model


def logits_only_bytes(data: bytes, logits: str = "logits", also: tuple[str, ...] = (),
                      drop_inputs: frozenset[str] = frozenset()) -> bytes:
    """``logits_only`` on a serialized model; ``also`` names more outputs to keep (``features``, for the
    out-of-distribution score), ``drop_inputs`` initializers the file also lists as graph inputs."""
    return edited_bytes(data, keep={logits, *also}, drop_inputs=drop_inputs)


def with_outputs_bytes(data: bytes, names: list[str], drop_inputs: frozenset[str] = frozenset()) -> bytes:
    """A serialized model that also gives the tensors ``names`` as outputs (the taps of a file another
    tool wrote, read in memory: the file itself is never changed)."""
    return edited_bytes(data, add=names, drop_inputs=drop_inputs)


def edited_bytes(data: bytes, keep: set[str] | None = None, add: list[str] = (),
                 drop_inputs: frozenset[str] = frozenset()) -> bytes:
    """The model with only the outputs in ``keep`` (all when None) and the nodes they need, ``add`` appended
    as outputs, and the graph inputs in ``drop_inputs`` removed, working on the protobuf wire format.

    Only the small node, input and output messages are parsed; the weights are copied as byte slices.
    Parsing and re-serializing a whole model holds Python's GIL for about 2 ms per MB (95 ms for
    ResNet-18 here), which stalls the app's event loop while a model loads. An initializer listed as a
    graph input (as old model-zoo files do) is an input ONNX Runtime must assume may change: it cannot
    fold it, so such inputs are dropped.
    """
    view = memoryview(data)
    graphs = [f for f in _fields(view) if f[0] == _MODEL_GRAPH]
    if not graphs:
        return data
    if len(graphs) > 1:  # a graph written in pieces (protobuf merges them): written out whole once, slowly
        return edited_bytes(onnx.ModelProto.FromString(data).SerializeToString(), keep, add, drop_inputs)
    _, _, graph_start, graph_end, field_start = graphs[0]
    graph_view = view[graph_start:graph_end]
    graph = list(_fields(graph_view))
    names = {index: onnx.ValueInfoProto.FromString(graph_view[start:end]).name
             for index, (number, _, start, end, _) in enumerate(graph)
             if number in (_GRAPH_OUTPUT, _GRAPH_INPUT, _GRAPH_VALUE_INFO)}
    existing = {names[i] for i, f in enumerate(graph) if f[0] == _GRAPH_OUTPUT}
    added = [name for name in dict.fromkeys(add) if name not in existing]
    pruning = keep is not None and len(existing - keep) > 0
    if not pruning and not added and not drop_inputs & {names[i] for i, f in enumerate(graph) if f[0] == _GRAPH_INPUT}:
        return data
    kept_nodes = needed = None
    if pruning:
        nodes = [(index, onnx.NodeProto.FromString(graph_view[start:end]))
                 for index, (number, _, start, end, _) in enumerate(graph) if number == _GRAPH_NODE]
        kept_nodes = {nodes[i][0] for i in _needed_nodes([(n.input, n.output) for _, n in nodes], keep | set(added))}
        needed = {name for index, node in nodes if index in kept_nodes for name in node.input} | keep | set(added)

    def kept(index: int, number: int) -> bool:
        if number == _GRAPH_INPUT:
            return names[index] not in drop_inputs
        if not pruning:
            return True
        if number == _GRAPH_NODE:
            return index in kept_nodes
        if number == _GRAPH_OUTPUT:
            return names[index] in keep
        if number == _GRAPH_VALUE_INFO:
            return names[index] in needed
        return True  # initializers and the rest; ONNX Runtime drops an initializer that no node uses

    pieces = [graph_view[f[4]:f[3]] for index, f in enumerate(graph) if kept(index, f[0])]
    for name in added:
        message = onnx.helper.make_empty_tensor_value_info(name).SerializeToString()
        pieces.append(_varint(_GRAPH_OUTPUT << 3 | 2) + _varint(len(message)) + message)
    tag = _varint(_MODEL_GRAPH << 3 | 2)  # a length-delimited field
    # One join: the weights are copied once.
    return b"".join([view[:field_start], tag, _varint(sum(len(p) for p in pieces)), *pieces, view[graph_end:]])


def _needed_nodes(nodes: list[tuple], outputs: set[str]) -> set[int]:
    """Indices of the nodes that ``outputs`` depend on, given (inputs, outputs) in graph order."""
    needed, kept = set(outputs), set()
    for index in reversed(range(len(nodes))):
        inputs, outputs = nodes[index]
        if any(out in needed for out in outputs):
            kept.add(index)
            needed.update(inputs)
    return kept


def _fields(view: memoryview):
    """(field number, wire type, payload start, payload end, field start) of each field of a message."""
    position = 0
    while position < len(view):
        field_start = position
        key, position = _read_varint(view, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, position = _read_varint(view, position)
            yield number, wire, field_start, position, field_start
            continue
        if wire == 2:
            length, position = _read_varint(view, position)
        elif wire in (1, 5):
            length = 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, position, position + length, field_start
        position += length


def _read_varint(view: memoryview, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = view[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
