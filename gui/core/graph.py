"""Edits of an ONNX graph in memory; the file on disk is never re-saved."""

from __future__ import annotations

import onnx

# Field numbers of onnx.proto3 (ModelProto.graph; GraphProto.node, .output and .value_info).
_MODEL_GRAPH, _GRAPH_NODE, _GRAPH_OUTPUT, _GRAPH_VALUE_INFO = 7, 1, 12, 13


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


def logits_only_bytes(data: bytes, logits: str = "logits", also: tuple[str, ...] = ()) -> bytes:
    """``logits_only`` on a serialized model, working on the protobuf wire format; ``also`` names
    more outputs to keep (``features``, for the out-of-distribution score).

    Only the small node and output messages are parsed; the weights are copied as byte slices.
    Parsing and re-serializing a whole model holds Python's GIL for about 2 ms per MB (95 ms for
    ResNet-18 here), which stalls the app's event loop while a model loads.
    """
    view = memoryview(data)
    graphs = [f for f in _fields(view) if f[0] == _MODEL_GRAPH]
    if len(graphs) != 1:  # not written by any exporter we know; take the slow, general way
        model = onnx.ModelProto.FromString(data)
        return logits_only(model, logits).SerializeToString() if len(model.graph.output) > 1 else data
    _, _, graph_start, graph_end, field_start = graphs[0]
    graph_view = view[graph_start:graph_end]
    graph = list(_fields(graph_view))
    kept_outputs = {logits, *also}
    if sum(1 for f in graph if f[0] == _GRAPH_OUTPUT) <= len(kept_outputs):
        return data
    nodes = [(index, onnx.NodeProto.FromString(graph_view[start:end]))
             for index, (number, _, start, end, _) in enumerate(graph) if number == _GRAPH_NODE]
    kept_nodes = {nodes[i][0] for i in _needed_nodes([(n.input, n.output) for _, n in nodes], kept_outputs)}
    needed = {name for index, node in nodes if index in kept_nodes for name in node.input} | kept_outputs

    def keep(index: int, field: tuple) -> bool:
        number, _, start, end, _ = field
        if number == _GRAPH_NODE:
            return index in kept_nodes
        if number in (_GRAPH_OUTPUT, _GRAPH_VALUE_INFO):
            name = onnx.ValueInfoProto.FromString(graph_view[start:end]).name
            return name in kept_outputs if number == _GRAPH_OUTPUT else name in needed
        return True  # initializers and the rest; ONNX Runtime drops an initializer that no node uses

    kept = [graph_view[f[4]:f[3]] for index, f in enumerate(graph) if keep(index, f)]
    tag = _varint(_MODEL_GRAPH << 3 | 2)  # a length-delimited field
    # One join: the weights are copied once.
    return b"".join([view[:field_start], tag, _varint(sum(len(k) for k in kept)), *kept, view[graph_end:]])


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
