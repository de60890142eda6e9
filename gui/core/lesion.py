"""Take blocks out of a network in memory, as Veit et al. (2016, Fig. 3) did: Qt-free and torch-free.

Removing a residual block drops its branch F(x): its output becomes what the block does to the
shortcut alone, ReLU(shortcut) where the block ends in a ReLU, and so exactly x for an identity
block after a ReLU. A plain network's block is replaced by the identity where its input and output
have one shape. The file is never re-saved: sessions are built from the edited bytes.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Iterable

import onnx
from onnx import helper

from .model_file import ModelInfo

# What may sit between a residual Add and the block's output tensor: applied to the shortcut instead.
AFTER_ADD = {"Relu", "Clip", "LeakyRelu", "QuantizeLinear", "DequantizeLinear", "Identity", "Cast"}
MAX_AFTER_ADD = 6


class LesionError(ValueError):
    """A block that cannot be removed from this graph, with the reason in words."""


@dataclass(frozen=True)
class Removable:
    block: str
    kind: str  # identity or projection: the shortcut it has, or for a plain block the one it would need
    reason: str | None = None  # why it cannot be removed; None when it can


def removable_blocks(info: ModelInfo) -> list[Removable]:
    """Every block of the model in network order, and whether it can be taken out."""
    arch = info.architecture
    if arch is None:
        return []
    out = []
    for block in arch.blocks():
        if block.residual:
            kind = block.shortcut.type
            missing = None if info.taps.has(block.name, "shortcut", "output") else "its shortcut is not tapped"
            out.append(Removable(block.name, kind, missing))
        else:
            same = block.stride == 1 and block.in_channels == block.out_channels
            reason = None if same else "its output has another shape than its input, so no identity can stand in"
            if same and not info.taps.has(block.name, "input", "output"):
                reason = "its input is not tapped"
            out.append(Removable(block.name, "identity" if same else "projection", reason))
    return out


def lesioned(model: onnx.ModelProto, info: ModelInfo, blocks: Iterable[str]) -> onnx.ModelProto:
    """``model`` edited in place so that each block in ``blocks`` is taken out; returns ``model``.

    The old output nodes stay, writing to tensors nobody reads (the session prunes them), so F(x) and
    every other tap still compute: the views can show what was removed.
    """
    known = {r.block: r for r in removable_blocks(info)}
    graph = model.graph
    producers = {name: graph.node[i] for i in range(len(graph.node)) for name in graph.node[i].output}
    index = {name: i for i in range(len(graph.node)) for name in graph.node[i].output}
    after: dict[int, list[onnx.NodeProto]] = {}  # by the retired node's index: what now writes its output
    for block in sorted(set(blocks)):
        entry = known.get(block)
        if entry is None:
            raise LesionError(f"{info.name} has no block {block!r}")
        if entry.reason:
            raise LesionError(f"{block} cannot be removed: {entry.reason}")
        output = info.taps.tensor(block, "output")
        if output not in producers:
            raise LesionError(f"{block}: no node of the graph writes its output {output!r}")
        arch_block = next(b for b in info.architecture.blocks() if b.name == block)
        if arch_block.residual:
            chain = _after_add(producers, output)
            source = info.taps.tensor(block, "shortcut")
        else:
            chain, source = [], info.taps.tensor(block, "input")
        after.setdefault(index[output], []).extend(_replace(producers, output, chain, source, block))
    nodes = []
    for i, node in enumerate(graph.node):
        nodes.append(node)
        nodes.extend(after.get(i, []))
    nodes = _in_order(nodes, {i.name for i in graph.input} | {t.name for t in graph.initializer})
    copies = [onnx.NodeProto() for _ in nodes]
    for copy, node in zip(copies, nodes):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)
    return model


def lesioned_bytes(data: bytes, info: ModelInfo, blocks: Iterable[str]) -> bytes:
    blocks = set(blocks)
    if not blocks:
        return data
    return lesioned(onnx.load_from_string(data), info, blocks).SerializeToString()


def _after_add(producers: dict, output: str) -> list[onnx.NodeProto]:
    """The nodes from the block's Add (exclusive) to its output (inclusive), in order: ReLU, or QDQ and ReLU."""
    chain: list[onnx.NodeProto] = []
    tensor = output
    while True:
        node = producers.get(tensor)
        if node is None:
            raise LesionError(f"no node writes {tensor!r} on the way back to the block's addition")
        if node.op_type in ("Add", "Sum"):
            return list(reversed(chain))
        if node.op_type not in AFTER_ADD or len(chain) >= MAX_AFTER_ADD:
            raise LesionError(f"the block's output comes from a {node.op_type}, not from its addition")
        chain.append(node)
        tensor = node.input[0]


def _replace(producers: dict, output: str, chain: list, source: str, block: str) -> list[onnx.NodeProto]:
    """The nodes that write ``output`` from ``source`` through copies of ``chain`` (or an Identity); the node
    that wrote it before is retired to a name nobody reads."""
    old = producers[output]
    old.output[list(old.output).index(output)] = f"{output}/intact ({block})"
    added, previous = [], source
    for i, node in enumerate(chain or [None]):
        target = output if i == max(0, len(chain) - 1) else f"{node.output[0]}/lesion ({block})"
        if node is None:
            copy = helper.make_node("Identity", [previous], [target], name=f"lesion/{block}")
        else:
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            copy.name = f"lesion/{block}/{node.name or node.op_type}"
            copy.input[0] = previous
            del copy.output[:]
            copy.output.append(target)
        added.append(copy)
        previous = target
    return added


def _in_order(nodes: list[onnx.NodeProto], given: set[str]) -> list[onnx.NodeProto]:
    """``nodes`` sorted so that each is after the nodes it reads from (Kahn's algorithm), as ONNX requires:
    a replacement may read a tensor (a tapped shortcut) that the file writes later than the node it replaces."""
    writer = {name: i for i, node in enumerate(nodes) for name in node.output}
    readers: dict[int, list[int]] = {}
    waiting = []
    for i, node in enumerate(nodes):
        sources = {writer[name] for name in node.input if name in writer and name not in given}
        waiting.append(len(sources))
        for source in sources:
            readers.setdefault(source, []).append(i)
    ready = [i for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)  # the earliest ready node first: the file's own order wherever it holds
    ordered = []
    while ready:
        i = heapq.heappop(ready)
        ordered.append(nodes[i])
        for reader in readers.get(i, []):
            waiting[reader] -= 1
            if waiting[reader] == 0:
                heapq.heappush(ready, reader)
    if len(ordered) != len(nodes):
        raise LesionError("the edited graph has a cycle")
    return ordered
