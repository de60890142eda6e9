"""Read and check an ONNX model file before anything runs it.

What is refused at load time, and why:
- external data (it can point at any file on disk), files over 2 GiB, metadata over 8 MiB,
  more than 100,000 classes or class names over 500 characters;
- anything but one 4-D float32 or float16 image input with 1 or 3 channels and a 2-D class output;
- zero classes, a fixed input side over 4,096 pixels, a fixed batch other than 1 (a batch of 1
  runs image by image), and preprocessing that is not finite or does not fit the input;
- control flow (Loop, Scan, If, or any node holding a subgraph): a residual network classifier
  has none, and a loop can run for ever.
Parses our metadata into a ``ModelInfo``. A file another tool wrote is understood from its graph
(``foreign``): its blocks, taps and classifier found, its preprocessing a preset the user can change.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from .architecture import Architecture
from .contract_parts import Preprocess, Taps
from .file_contract import FileMetadata, GraphFacts
from .foreign import Discovery, ForeignRejected, understand
from .graph_index import element_type
from .limits import MAX_CLASSES, MAX_INPUT_SIDE, MAX_LABEL_CHARS, MAX_METADATA_BYTES, MAX_MODEL_BYTES
from .local_file import Rejected, check_local_file, open_regular
from .model_io import INPUT_TYPES, GraphIO, InputSpec, OutputSpec
from .ood import OutOfDistribution
from .text import first_line, printable, unsafe_characters

CONTROL_FLOW = {"Loop", "Scan", "If"}


class ModelRejected(Rejected):
    """Why a model file cannot be used."""


@dataclass(frozen=True)
class FileIdentity:
    """The exact bytes a model was checked from: what every later read must find again."""

    path: Path
    size: int
    mtime_ns: int
    sha256: str


def _read_once(path: Path) -> tuple[bytes, FileIdentity]:
    """The file's bytes, read once through a regular-file check, and their identity."""
    try:
        with open_regular(path) as f:
            data = f.read(MAX_MODEL_BYTES + 1)
            mtime_ns = os.fstat(f.fileno()).st_mtime_ns
    except OSError as exc:
        raise ModelRejected(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_MODEL_BYTES:
        raise ModelRejected(f"{path}: over the 2 GiB limit")
    return data, FileIdentity(path, len(data), mtime_ns, hashlib.sha256(data).hexdigest())


def checked_bytes(identity: FileIdentity) -> bytes:
    """The file's bytes again, if they are still the ones that were checked; ``ModelRejected`` if the
    file is gone or has changed since (a file swapped after its check never runs unchecked)."""
    try:
        with open_regular(identity.path) as f:
            data = f.read(identity.size + 1)
    except FileNotFoundError:
        raise ModelRejected(f"{identity.path}: the model file is gone since it was loaded") from None
    except OSError as exc:
        raise ModelRejected(f"{identity.path}: cannot read ({exc.strerror or exc})") from None
    if len(data) != identity.size or hashlib.sha256(data).hexdigest() != identity.sha256:
        raise ModelRejected(f"{identity.path}: changed on disk since it was checked; open it again "
                            f"(Models → Refresh, F5) to check the new file")
    return data


@dataclass
class ModelInfo:
    """A checked model file: its identity, the contract it states (or that was found in its graph), and
    how its graph takes images and gives classes."""

    path: Path
    identity: FileIdentity
    meta: FileMetadata
    input: InputSpec
    output: OutputSpec
    ood: OutOfDistribution | None = None  # out-of-distribution parameters, when the file carries them
    classifier: tuple[np.ndarray, np.ndarray] | None = None  # fc weight [classes, features] and bias, for CAM
    discovery: Discovery | None = None  # a foreign file: what was found and chosen; None for one of ours

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def has_metadata(self) -> bool:
        return self.discovery is None

    @property
    def labels(self) -> list[str]:
        """As shown: the file's, a labels file's beside a foreign file, ImageNet's, or "class i"."""
        return self.meta.labels

    @property
    def preprocess(self) -> Preprocess:
        return self.meta.preprocess

    @property
    def taps(self) -> Taps:
        return self.meta.taps

    @property
    def architecture(self) -> Architecture | None:
        return self.meta.architecture

    @property
    def variant(self) -> str | None:
        return self.meta.variant

    @property
    def precision(self) -> str:
        return self.meta.precision

    @property
    def num_classes(self) -> int:
        return self.output.classes

    @property
    def weights_source(self) -> str:
        """Where the weights came from, as a user should see it next to every prediction."""
        if self.discovery is not None:
            return f"no metadata; {self.discovery.summary()}"
        return self.meta.weights.describe(self.meta.dataset)

    @property
    def accuracy(self) -> float | None:
        return self.meta.metrics.top1(self.meta.schema)

    @property
    def has_activations(self) -> bool:
        return bool(self.taps.blocks())

    @property
    def has_cam(self) -> bool:
        return bool(self.taps.cam_layer) and self.classifier is not None


def _dims(value_info) -> list[int | None]:
    return [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]


def check_labels(labels: list, what: str, error: type[Rejected]) -> None:
    """Class names: strings, at most MAX_CLASSES of them, each at most MAX_LABEL_CHARS long.

    The exporter and ``train --data`` (folder names) apply the same rules as this reader.
    """
    if not all(isinstance(label, str) for label in labels):
        raise error(f"{what} should be a list of strings")
    if len(labels) > MAX_CLASSES:
        raise error(f"{what} names {len(labels):,} classes; at most {MAX_CLASSES:,} are supported")
    longest = max((len(label) for label in labels), default=0)
    if longest > MAX_LABEL_CHARS:
        raise error(f"{what} has a class name of {longest:,} characters; at most {MAX_LABEL_CHARS} are supported")


def check_written_labels(labels: list, what: str, error: type[Rejected]) -> None:
    """``check_labels``, and no control, line-separator or bidirectional characters: names about to be
    written into a model file that other tools will read (a folder named "dog\nBag 100.0%" would forge a line)."""
    check_labels(labels, what, error)
    for label in labels:
        bad = unsafe_characters(label)
        if bad:
            raise error(f"{what} has “{printable(label[:60])}”, with {', '.join(bad)}: class names may not hold "
                        f"control or direction characters; rename it")


def _parse(data: bytes, path: Path) -> onnx.ModelProto:
    """The model, if it is ONNX and holds nothing that reads other files or runs unbounded."""
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own DecodeError among others
        raise ModelRejected(f"{path}: not a readable ONNX file ({first_line(exc)[:120]})") from None
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in _all_tensors(model.graph)):
        raise ModelRejected(f"{path}: uses external data, which is refused (it can point at any file on disk)")
    flow = sorted({n.op_type for n in model.graph.node
                   if n.op_type in CONTROL_FLOW or any(a.HasField("g") or a.graphs for a in n.attribute)})
    if flow:
        raise ModelRejected(f"{path}: holds control flow ({', '.join(flow)[:80]}), which a residual network "
                            f"classifier never needs and which can run for ever; refused")
    metadata_bytes = sum(len(p.key) + len(p.value) for p in model.metadata_props)
    if metadata_bytes > MAX_METADATA_BYTES:
        raise ModelRejected(f"{path}: {metadata_bytes / 2**20:.0f} MiB of metadata is over the "
                            f"{MAX_METADATA_BYTES // 2**20} MiB limit")
    return model


def _declared_io(model: onnx.ModelProto, path: Path, io: GraphIO) -> tuple[InputSpec, OutputSpec, int | None]:
    """The input, class output and declared batch of one of our files: NCHW and ``logits`` as our exporter
    writes them, or as the ``io`` entry of a file adopted from another tool says."""
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ModelRejected(f"{path}: expected one image input, found {len(inputs)}")
    image, shape = inputs[0], _dims(inputs[0])
    dtype = INPUT_TYPES.get(image.type.tensor_type.elem_type)
    if dtype is None or len(shape) != 4:
        kind = element_type(image.type.tensor_type.elem_type)
        raise ModelRejected(f"{path}: input '{image.name}' should be a 4-D float32 or float16 image batch "
                            f"[batch, C, H, W], found {kind} of rank {len(shape)}")
    outputs = {o.name: o for o in model.graph.output}
    logits = outputs.get(io.output) or next((o for o in model.graph.output if len(_dims(o)) == 2), None)
    if logits is None or len(_dims(logits)) != 2:
        raise ModelRejected(f"{path}: no 2-D class output [batch, classes]")
    classes = _dims(logits)[1]
    if classes == 0:
        raise ModelRejected(f"{path}: logits have 0 classes; 1 to {MAX_CLASSES:,} are supported")
    channels, height, width = (shape[3], shape[1], shape[2]) if io.layout == "NHWC" else shape[1:]
    return (InputSpec(image.name, channels, height, width, io.layout, dtype, 1 if shape[0] == 1 else None),
            OutputSpec(logits.name, classes or 0, io.output_kind), shape[0])


def _graph_io(props: dict[str, str], path: Path) -> GraphIO:
    """The ``io`` entry, read before the rest: checking the rest needs the input's channels."""
    if "io" not in props:
        return GraphIO()
    try:
        data = json.loads(props["io"])
    except ValueError:
        raise ModelRejected(f"{path}: metadata 'io' is not valid JSON") from None
    if not isinstance(data, dict):
        raise ModelRejected(f"{path}: metadata 'io' should be a dict")
    return GraphIO.from_json(data, str(path), ModelRejected)


def _check_io(spec: InputSpec, output: OutputSpec, batch: int | None, path: Path) -> None:
    if spec.channels not in (1, 3):
        raise ModelRejected(f"{path}: input has {spec.channels} channels; only 1 (greyscale) or 3 (RGB) are supported")
    if any(side is not None and not 1 <= side <= MAX_INPUT_SIDE for side in (spec.height, spec.width)):
        raise ModelRejected(f"{path}: input of {spec.height}x{spec.width} pixels; sides of 1 to {MAX_INPUT_SIDE} "
                            f"are supported")
    if batch not in (None, 0, 1):
        raise ModelRejected(f"{path}: input has a fixed batch of {batch}; only 1 or a dynamic batch is supported")
    if output.width == 0:
        raise ModelRejected(f"{path}: the number of classes is neither in the file's shape nor its labels")
    if not 1 <= output.width <= MAX_CLASSES:
        raise ModelRejected(f"{path}: logits have {output.width:,} classes; 1 to {MAX_CLASSES:,} are supported")


def read_model(path: str | os.PathLike, preset: str | Preprocess | None = None,
               labels_file: Path | None = None) -> ModelInfo:
    """Check ``path`` and read what it says about itself, or what its graph shows. ``preset`` names the
    preprocessing of a file that states none, or gives it (else the remembered choice, else a guess);
    ``labels_file`` its class names. Raises ``ModelRejected`` with a reason."""
    path, _, size = check_local_file(path, ModelRejected, "download the model file first")
    if size > MAX_MODEL_BYTES:
        raise ModelRejected(f"{path}: {size / 2**30:.1f} GiB is over the 2 GiB limit")
    data, identity = _read_once(path)
    model = _parse(data, path)
    props = {p.key: p.value for p in model.metadata_props}
    initializers = {i.name: i for i in model.graph.initializer}
    if "labels" in props and "preprocess" in props:
        spec, output, batch = _declared_io(model, path, _graph_io(props, path))
        outputs = {o.name for o in model.graph.output}
        meta = FileMetadata.from_props(props, str(path), ModelRejected, GraphFacts(outputs, set(initializers),
                                                                                     spec.channels))
        check_labels(meta.labels, f"{path}: metadata 'labels'", ModelRejected)
        if output.width and len(meta.labels) != output.classes:
            raise ModelRejected(f"{path}: {len(meta.labels)} labels for {output.classes} logits")
        output = OutputSpec(output.name, output.width or len(meta.labels), output.kind)
        _check_io(spec, output, batch, path)
        discovery, taps = None, meta.taps
        classifier = (tuple(numpy_helper.to_array(initializers[n]).astype(np.float32) for n in (taps.fc_weight,
                      taps.fc_bias)) if taps.fc_weight and taps.fc_bias else None)
    else:
        try:
            meta, spec, output, discovery = understand(model, path, identity.sha256, preset, labels_file)
        except ForeignRejected as exc:
            raise ModelRejected(f"{path}: {exc}") from None
        _check_io(spec, output, next(iter(_dims(i)[0] for i in model.graph.input if i.name == spec.name)), path)
        classifier = discovery.classifier
    fixed = [s for s in (spec.height, spec.width) if s is not None]
    if fixed and fixed != [meta.preprocess.crop] * len(fixed):
        raise ModelRejected(f"{path}: input is {spec.height}x{spec.width} but preprocessing crops to "
                            f"{meta.preprocess.crop}")
    ood = OutOfDistribution.from_metadata(meta.ood, output.classes) if meta.taps.features == "features" else None
    return ModelInfo(path, identity, meta, spec, output, ood, classifier, discovery)


def _all_tensors(graph) -> list:
    tensors = list(graph.initializer)
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                tensors.append(attribute.t)
            tensors.extend(attribute.tensors)
            if attribute.HasField("g"):
                tensors.extend(_all_tensors(attribute.g))
            for sub in attribute.graphs:
                tensors.extend(_all_tensors(sub))
    return tensors

