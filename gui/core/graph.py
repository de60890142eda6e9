"""Edits of an ONNX graph in memory; the file on disk is never re-saved."""

from __future__ import annotations

import onnx


def logits_only(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same graph with every output but ``logits`` removed, and the nodes only they needed."""
    needed = {"logits"}
    kept = []
    for node in reversed(model.graph.node):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(node.input)
    pruned = onnx.ModelProto()
    pruned.CopyFrom(model)
    graph = pruned.graph
    for field, items in (("node", list(reversed(kept))),
                         ("initializer", [i for i in model.graph.initializer if i.name in needed]),
                         ("value_info", [v for v in model.graph.value_info if v.name in needed]),
                         ("output", [o for o in model.graph.output if o.name == "logits"])):
        del getattr(graph, field)[:]
        getattr(graph, field).extend(items)
    return pruned
