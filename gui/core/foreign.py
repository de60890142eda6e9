"""A model file that nobody on this project wrote, understood from its graph: what ``resnet_graph`` finds
becomes the same ``FileMetadata`` our exporter writes (architecture, taps, precision), with preprocessing
from a preset (the user's remembered choice, or a guess said to be one) and labels from a file beside it."""

from __future__ import annotations

import re
from importlib import resources
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import helper

from .contract_parts import Preprocess, Tap, Taps, Weights
from .file_contract import FileMetadata
from .graph_architecture import describe_found
from .graph_index import GraphIndex
from .limits import MAX_CLASSES, MAX_LABEL_CHARS
from .local_file import open_regular
from .model_io import InputSpec, OutputSpec
from .presets import PRESETS, guess, remembered
from .resnet_graph import CONVS, Found, NotAClassifier, analyse

DYNAMIC_SIDE = 224  # the side a file that leaves its input size open is run at (ImageNet's)
LABEL_FILES = ("{stem}.labels.txt", "labels.txt", "synset.txt", "imagenet_classes.txt")
_WORDNET_ID = re.compile(r"^n\d{8}\s+")  # the model zoo's synset.txt: "n01440764 tench, Tinca tinca"


@dataclass
class Discovery:
    """What the app found in a foreign file, and what it chose for it, to say next to its name."""

    message: str  # "found: 16 blocks, 4 stages"
    notes: list[str] = field(default_factory=list)
    preset: str = "torchvision"
    preset_guessed: bool = True
    labels_from: str | None = None  # where the labels came from: the file beside the model, or ImageNet's
    layout: str = "NCHW"
    classifier: tuple[np.ndarray, np.ndarray] | None = None  # [classes, features] weight and bias, float32
    stripped_inputs: frozenset[str] = frozenset()  # initializers the file also lists as inputs

    def summary(self) -> str:
        """One line for the picker and ``models``: found structure · layout · preset (guessed)."""
        parts = [self.message, *(["Keras layout (NHWC)"] if self.layout == "NHWC" else []),
                 f"preset: {self.preset}{' (guessed)' if self.preset_guessed else ''}",
                 *([f"labels: {self.labels_from}"] if self.labels_from else [])]
        return " · ".join(parts)


class ForeignRejected(ValueError):
    """Why a foreign graph cannot be used as a classifier; ``str()`` is one line."""


def understand(model: onnx.ModelProto, path: Path, sha256: str, preset: str | Preprocess | None,
               labels_file: Path | None = None) -> tuple[FileMetadata, InputSpec, OutputSpec, Discovery]:
    """Everything the app needs of a foreign file, from its graph; ``preset`` (a name, or a custom
    ``Preprocess``) overrides the remembered choice, ``labels_file`` the labels beside the file."""
    try:
        found, index = analyse(model, crop=DYNAMIC_SIDE)
    except NotAClassifier as exc:
        raise ForeignRejected(str(exc)) from None
    if found.output is None:
        raise ForeignRejected("no 2-D class output [batch, classes]")
    declared = next(o for o in model.graph.output if o.name == found.output).type.tensor_type.shape.dim
    if len(declared) == 2 and declared[1].HasField("dim_value") and declared[1].dim_value == 0:
        raise ForeignRejected(f"logits have 0 classes; 1 to {MAX_CLASSES:,} are supported")
    if not found.classes:
        raise ForeignRejected("the class output has no fixed number of classes")
    side = found.height or found.width or DYNAMIC_SIDE
    spec = InputSpec(found.input_name, found.channels, found.height, found.width, found.layout, found.input_dtype,
                     1 if found.input_dims[0] == 1 else None)
    output = OutputSpec(found.output, int(found.classes or 0), found.output_kind)
    chosen = preset or remembered(sha256)
    pre_activation = any(b.pre_activation for b in found.blocks)
    if isinstance(chosen, Preprocess):
        name, preprocess = "custom", chosen
        preprocess.check("--preprocess", ForeignRejected, found.channels)
    else:
        name = chosen if chosen in PRESETS else guess(found.layout, pre_activation)
        preprocess = PRESETS[name].for_side(side, found.channels)
    labels, labels_from = labels_beside(path, output.classes)
    if labels_file is not None:
        labels, labels_from = _read_labels(labels_file, output.classes), labels_file.name
        if labels is None:
            raise ForeignRejected(f"{labels_file} does not hold {output.classes:,} class names, one a line")
    _measure_missing_shapes(model, index, found, spec, side)
    meta = FileMetadata(labels=labels, preprocess=preprocess, schema=0,
                        architecture=describe_found(index, found, output.classes), weights=Weights("file"),
                        precision=found.precision, taps=_taps(index, found))
    initializers = {t.name for t in model.graph.initializer}
    discovery = Discovery(found.message, found.notes, name, name != "custom" and chosen not in PRESETS, labels_from,
                          found.layout,
                          (found.classifier.weight, found.classifier.bias) if found.classifier else None,
                          frozenset(i.name for i in model.graph.input if i.name in initializers))
    return meta, spec, output, discovery


def _measure_missing_shapes(model: onnx.ModelProto, index: GraphIndex, found: Found, spec: InputSpec,
                            side: int) -> None:
    """Where shape inference lost a side (Keras computes its "same" padding from the input's shape at run
    time), run the graph once on a blank image and take the shapes it really gives, for the structure view."""
    positions = {p for b in found.blocks for p in b.branch_nodes + b.shortcut_nodes}
    if found.stem_output:
        positions.update(index.nodes_between(found.input_name, found.stem_output))
    wanted = {index.nodes[p].output[0] for p in positions} | {t for b in found.blocks for t in (b.input, b.output)}
    missing = sorted(t for t in wanted if len(index.shapes.get(t) or []) == 4 and None in index.shapes[t])
    if not missing:
        return
    import onnxruntime as ort

    from .graph import with_outputs_bytes

    initializers = {t.name for t in model.graph.initializer}
    data = with_outputs_bytes(model.SerializeToString(), missing,
                              frozenset(i.name for i in model.graph.input if i.name in initializers))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        blank = spec.feed(np.zeros((1, spec.channels, spec.height or side, spec.width or side), np.float32))
        values = session.run(missing, {spec.name: blank})
    except Exception:  # noqa: BLE001 - a graph ORT cannot run keeps the shapes inference gave
        return
    for name, value in zip(missing, values):
        index.shapes[name] = list(value.shape)


def _taps(index: GraphIndex, found: Found) -> Taps:
    """Every found block's input, F(x), shortcut and output, as taps the session adds in memory."""
    taps = [Tap(block.name, role, tensor) for block in found.blocks
            for role, tensor in (("input", block.input), ("branch", block.branch), ("shortcut", block.shortcut),
                                 ("output", block.output))]
    names = {t.tensor for t in taps} | {found.stem_output, found.pool_input} - {None}
    last = {n for n in names if found.layout == "NHWC" and _channels_last(index, n)}
    return Taps(taps, found.stem_output, found.features, found.pool_input, None, None, frozenset(last), in_file=False)


def _channels_last(index: GraphIndex, tensor: str) -> bool:
    """In a Keras graph, whether a feature map is kept [N, H, W, C]: it is when the nearest layout change
    behind it is the Transpose back to channels last after a convolution."""
    for _ in range(64):
        node = index.node_of(tensor)
        if node is None or node.op_type in CONVS:
            return False
        if node.op_type == "Transpose":
            perm = list(next((helper.get_attribute_value(a) for a in node.attribute if a.name == "perm"), []))
            return perm == [0, 2, 3, 1]
        inputs = index.variable_inputs(node)
        if not inputs:
            return False
        tensor = inputs[0]
    return False


def labels_beside(path: Path, classes: int) -> tuple[list[str], str | None]:
    """Class names from a labels file next to the model (one per line, as many as it has classes), or
    ImageNet's for 1,000 classes, or "class i"; and the file they came from."""
    for pattern in LABEL_FILES:
        candidate = path.with_name(pattern.format(stem=path.stem))
        labels = _read_labels(candidate, classes)
        if labels is not None:
            return labels, candidate.name
    if classes == 1000:
        return imagenet_labels(), "ImageNet's, assumed from the 1,000 classes"
    return [f"class {i}" for i in range(classes)], None


def imagenet_labels() -> list[str]:
    return resources.files("resnet_studio.resources").joinpath("imagenet_classes.txt").read_text().splitlines()


def _read_labels(path: Path, classes: int) -> list[str] | None:
    if not 1 <= classes <= MAX_CLASSES:
        return None
    try:
        with open_regular(path) as f:
            text = f.read(classes * (MAX_LABEL_CHARS + 20) + 1).decode("utf-8", errors="replace")
    except OSError:
        return None
    lines = [_WORDNET_ID.sub("", line).strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) != classes or any(len(line) > MAX_LABEL_CHARS for line in lines):
        return None
    return lines
