"""A model's ``architecture`` metadata as a data-flow graph, as the ResNet paper draws it (Qt-free).

input → stem → stages of blocks → global average pool → fc → classes. Inside a block the weight
layers (each with its BN, and ReLU where there is one) sit on the main path; the skip path goes
from the block's input around them into ⊕, through a 1×1 projection where the shape changes.
Runs of identical blocks after a stage's first collapse into one node until expanded.
Positions are in abstract grid units: the widget scales them and draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from resnet_studio.core.architecture import Architecture, Block, Layer, Stage

MAIN, SKIP = "main", "skip"
# What a node shows, and so what compare mode compares: the same for two nodes means no real difference.
SHOWN = ("kind", "kernel", "stride", "groups", "out_channels", "repeat")


@dataclass
class Node:
    id: str
    kind: str  # input, conv, maxpool, add, projection, run, avgpool, fc, output
    label: str
    role: tuple  # where it sits, model-independent: compare mode matches nodes by it
    attrs: dict[str, Any] = field(default_factory=dict)
    block: str | None = None  # the block it belongs to (layer2.0), for activations and framing
    column: int = 0
    row: float = 0.0
    lane: int = 0  # 0: the main path; 1: the skip path beside it


@dataclass
class Edge:
    source: str
    target: str
    kind: str = MAIN


@dataclass
class Graph:
    title: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # column titles: stem, layer1…, head
    slots: list[list[tuple]] = field(default_factory=list)  # per column, the slot keys in order
    slot_nodes: dict[tuple, list[str]] = field(default_factory=dict)

    def add(self, node: Node, slot: tuple) -> Node:
        self.nodes[node.id] = node
        self.slot_nodes.setdefault(slot, []).append(node.id)
        return node

    def link(self, source: str, target: str, kind: str = MAIN) -> None:
        self.edges.append(Edge(source, target, kind))

    def skip_edges_into_adds(self) -> int:
        return sum(1 for e in self.edges if e.kind == SKIP and self.nodes[e.target].kind == "add")


def _conv_text(kernel: int, out: int, stride: int, groups: int) -> str:
    """The paper's notation (Table 1, Fig. 5): "3×3, 64", with ResNeXt's groups and the stride."""
    return (f"{kernel}×{kernel}, {out}" + (f", g{groups}" if groups > 1 else "")
            + (f", /{stride}" if stride > 1 else ""))


def _shape(shape: list[int]) -> str:
    return "×".join(str(s) for s in shape)


def _weight_nodes(layers: list[Layer], pre_activation: bool = False) -> list[dict[str, Any]]:
    """Fold each conv with the norm and ReLU after it: one node per weight layer, as in the paper's figures.
    In a pre-activation block (He et al. 2016) the norm and ReLU come before the conv they feed."""
    folded: list[dict[str, Any]] = []
    before: list[str] = []
    for layer in layers:
        kind = layer.kind
        if pre_activation and kind in ("norm", "relu"):
            before.append("BN" if kind == "norm" else "ReLU")
            continue
        if kind == "conv":
            folded.append({"kind": "conv", "kernel": layer.kernel, "stride": layer.stride, "groups": layer.groups,
                           "in_channels": layer.in_channels, "out_channels": layer.out_channels,
                           "params": layer.params, "macs": layer.macs, "output_shape": layer.output_shape,
                           "norm": None, "relu": False, "before": " ".join(before), "layers": [layer.name]})
            before = []
        elif folded and kind == "norm" and folded[-1]["kind"] == "conv":
            folded[-1].update(norm=layer.norm or "BN", params=folded[-1]["params"] + layer.params)
            folded[-1]["layers"].append(layer.name)
        elif folded and kind == "relu" and folded[-1]["kind"] == "conv" and not folded[-1].get("closed"):
            folded[-1]["relu"] = True
        elif kind == "add" and folded:
            folded[-1]["closed"] = True  # the ReLU after the addition belongs to ⊕, not to this conv
        elif kind == "maxpool":
            folded.append({"kind": "maxpool", "kernel": layer.kernel, "stride": layer.stride, "groups": 1,
                           "in_channels": layer.in_channels, "out_channels": layer.out_channels, "params": 0,
                           "macs": 0, "output_shape": layer.output_shape, "layers": [layer.name]})
    return folded


def _label(node: dict[str, Any]) -> str:
    node.pop("closed", None)
    if node["kind"] == "maxpool":
        return f"{node['kernel']}×{node['kernel']} max-pool, /{node['stride']}"
    text = _conv_text(node["kernel"], node["out_channels"], node["stride"], node["groups"])
    norm = (node["norm"] or "").replace("BatchNorm2d", "BN")
    before = f"{node['before']} " if node.get("before") else ""
    return before + text + (f" {norm}" if norm else "") + (" ReLU" if node["relu"] else "")


def signature(block: Block) -> tuple:
    """Two blocks with the same signature are drawn identically."""
    layers = tuple((l.kind, l.in_channels, l.out_channels, l.kernel, l.stride, l.groups) for l in block.layers)
    return block.type, layers, block.shortcut.type, block.shortcut.stride


def items(stage: Stage, expanded: bool) -> list[list[Block]]:
    """A stage's blocks as the diagram shows them: the first alone, then runs of identical blocks."""
    blocks = stage.blocks
    if expanded or len(blocks) < 3:
        return [[b] for b in blocks]
    out = [[blocks[0]]]
    for block in blocks[1:]:
        if len(out) > 1 and signature(out[-1][-1]) == signature(block):
            out[-1].append(block)
        else:
            out.append([block])
    return out


def build(arch: Architecture, title: str, expanded: frozenset[str] | set[str] = frozenset()) -> Graph:
    """The graph of one model; stages named in ``expanded`` show every block. A structure found in another
    tool's graph (not declared by its writer) says so in the title."""
    graph = Graph(title + (" · found in its graph" if arch.source == "found" else ""))
    c, h, w = arch.input_shape
    graph.columns.append("input · stem")
    graph.slots.append([("stem",)])
    previous = graph.add(Node("input", "input", f"input {c}×{h}×{w}", ("input",),
                              {"output_shape": [c, h, w], "params": 0, "macs": 0}), ("stem",)).id
    for index, folded in enumerate(_weight_nodes(arch.stem.layers)):
        node = graph.add(Node(f"stem.{index}", folded["kind"], _label(folded), ("stem", index), folded), ("stem",))
        graph.link(previous, node.id)
        previous = node.id

    for s, stage in enumerate(arch.stages):
        column = len(graph.columns)
        graph.columns.append(f"{stage.name} · {_shape(stage.output_shape)}")
        graph.slots.append([])
        for group in items(stage, stage.name in expanded):
            first, last = group[0], group[-1]
            slot = (stage.name, int(first.name.rsplit(".", 1)[1]))
            graph.slots[-1].append(slot)
            if len(group) > 1:
                a, b = (int(x.name.rsplit(".", 1)[1]) for x in (first, last))
                run = graph.add(Node(
                    f"{stage.name}.{a}-{b}", "run", f"{stage.name}.{a}–{b} ×{len(group)}, identical",
                    ("stage", s, "run", a), {"repeat": len(group), "blocks": [x.name for x in group],
                                             "params": sum(x.params for x in group),
                                             "macs": sum(x.macs for x in group),
                                             "out_channels": last.out_channels,
                                             "output_shape": last.output_shape, "stage": stage.name},
                    block=first.name, column=column), slot)
                graph.link(previous, run.id)
                previous = run.id
                continue
            previous = _block(graph, first, s, previous, column, slot)

    column = len(graph.columns)
    graph.columns.append("head")
    graph.slots.append([("head",)])
    pool, fc = arch.head.layers[0], arch.head.layers[1]
    for node in (Node("head.pool", "avgpool", "global average pool", ("head", "pool"),
                      {"output_shape": pool.output_shape, "params": 0, "macs": 0}),
                 Node("head.fc", "fc", f"fc, {fc.in_channels} → {fc.out_channels}", ("head", "fc"),
                      {"in_channels": fc.in_channels, "out_channels": fc.out_channels, "params": fc.params,
                       "macs": fc.macs, "output_shape": fc.output_shape}),
                 Node("head.out", "output", f"{arch.num_classes:,} classes", ("head", "out"),
                      {"output_shape": [arch.num_classes], "params": 0, "macs": 0})):
        node.column = column
        graph.add(node, ("head",))
        graph.link(previous, node.id)
        previous = node.id
    _place(graph)
    return graph


def _block(graph: Graph, block: Block, stage: int, previous: str, column: int, slot: tuple) -> str:
    name = block.name
    index = int(name.rsplit(".", 1)[1])
    folded = _weight_nodes(block.layers, block.type.endswith("(pre-activation)"))
    residual = block.residual
    entry = previous
    for i, layer in enumerate(folded):
        if not residual and i == len(folded) - 1:
            layer["relu"] = True  # a plain block's last ReLU follows its last BN directly
        node = graph.add(Node(f"{name}.conv{i + 1}", "conv", _label(layer), ("stage", stage, "block", index, i),
                              layer, block=name, column=column), slot)
        graph.link(previous, node.id)
        previous = node.id
    if not residual:
        return previous
    # A pre-activation (v2) block adds and stops; its ReLU comes first in the next block.
    relu_after = any(l.kind == "relu" for l in block.layers[[l.kind for l in block.layers].index("add") + 1:]) \
        if any(l.kind == "add" for l in block.layers) else True
    add = graph.add(Node(f"{name}.add", "add", "⊕ ReLU" if relu_after else "⊕",
                         ("stage", stage, "block", index, "add"),
                         {"output_shape": block.output_shape, "params": 0, "macs": 0,
                          "out_channels": block.out_channels}, block=name, column=column), slot)
    graph.link(previous, add.id)
    shortcut = block.shortcut
    if shortcut.type == "projection":
        proj = _weight_nodes(shortcut.layers)[0]
        node = graph.add(Node(f"{name}.projection", "projection", _label(proj),
                              ("stage", stage, "block", index, "projection"), proj, block=name, column=column,
                              lane=1), slot)
        graph.link(entry, node.id, SKIP)
        graph.link(node.id, add.id, SKIP)
    else:
        graph.link(entry, add.id, SKIP)
    return add.id


def _place(graph: Graph, slot_rows: dict[tuple, float] | None = None) -> None:
    """Rows within each column; ``slot_rows`` (from ``align``) gives each slot its height in rows."""
    for column, slots in enumerate(graph.slots):
        row = 0.0
        for slot in slots:
            ids = graph.slot_nodes.get(slot, [])
            main = [i for i in ids if graph.nodes[i].lane == 0]
            projections = [i for i in ids if graph.nodes[i].lane == 1]
            for k, node_id in enumerate(main):
                graph.nodes[node_id].column, graph.nodes[node_id].row = column, row + k
            for node_id in projections:  # beside the middle of the main path it bypasses
                graph.nodes[node_id].column, graph.nodes[node_id].row = column, row + max(0, len(main) - 2) / 2
            height = max(len(main), (slot_rows or {}).get(slot, 0))
            row += height + 0.6


def align(first: Graph, second: Graph) -> tuple[set[str], set[str]]:
    """Lay two graphs out slot by slot and return the ids of the nodes that really differ in each.

    Nodes match by role (stage and block index, then the k-th weight layer, the add, the
    projection; stem and head by kind), never by position in a text. A stage only one model has
    leaves an empty column in the other; both heads share the last column.
    """
    columns = max(len(first.slots), len(second.slots))
    for graph in (first, second):
        head, title = graph.slots.pop(), graph.columns.pop()
        while len(graph.slots) < columns - 1:
            graph.slots.append([])
            graph.columns.append("")
        graph.slots.append(head)
        graph.columns.append(title)
    merged = [sorted(set(a) | set(b), key=_slot_order) for a, b in zip(first.slots, second.slots)]
    heights: dict[tuple, float] = {}
    for graph in (first, second):
        for slot, ids in graph.slot_nodes.items():
            heights[slot] = max(heights.get(slot, 0), sum(1 for i in ids if graph.nodes[i].lane == 0))
    for graph in (first, second):
        graph.slots = [list(slots) for slots in merged]
        _place(graph, heights)
    by_role = [{n.role: n for n in g.nodes.values()} for g in (first, second)]
    differ: tuple[set[str], set[str]] = (set(), set())
    for side, (mine, theirs) in enumerate(((by_role[0], by_role[1]), (by_role[1], by_role[0]))):
        for role, node in mine.items():
            other = theirs.get(role)
            if other is None or _shown(node) != _shown(other):
                differ[side].add(node.id)
    return differ


def _shown(node: Node) -> tuple:
    return tuple(node.kind if key == "kind" else node.attrs.get(key) for key in SHOWN)


def _slot_order(slot: tuple) -> tuple:
    order = {"stem": 0, "head": 2}
    return (order.get(slot[0], 1), slot[1] if len(slot) > 1 else 0)


def describe_node(node: Node) -> str:
    """What a click on a node shows: every figure the metadata holds for it, one per line."""
    attrs = node.attrs
    lines = [node.label]
    if node.block:
        lines.append(f"block {node.block}" if node.kind != "run" else f"blocks {', '.join(attrs['blocks'][:4])}"
                     + (f" … {attrs['blocks'][-1]}" if len(attrs["blocks"]) > 4 else ""))
    for key, text in (("kernel", "kernel"), ("stride", "stride"), ("groups", "groups"),
                      ("in_channels", "channels in"), ("out_channels", "channels out")):
        if key in attrs and node.kind in ("conv", "projection", "maxpool", "fc"):
            value = attrs[key]
            lines.append(f"{text}: {f'{value}×{value}' if key == 'kernel' else value}")
    if "params" in attrs:
        lines.append(f"params: {attrs['params']:,}")
    if "macs" in attrs:
        lines.append(f"MACs: {attrs['macs']:,}")
    if "output_shape" in attrs:
        lines.append(f"output: {_shape(attrs['output_shape'])}")
    if node.kind == "run":
        lines.append("click to show every block")
    return "\n".join(lines)
