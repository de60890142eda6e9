"""Read and check an ONNX model file before anything runs it.

What is refused at load time, and why:
- external data (it can point at any file on disk), files over 2 GiB, metadata over 8 MiB,
  more than 100,000 classes or class names over 500 characters;
- anything but one 4-D float input with 1 or 3 channels and a 2-D logits output;
- zero classes, a fixed input side over 4,096 pixels, a fixed batch other than 1 (a batch of 1
  runs image by image), and preprocessing that is not finite or does not fit the input;
- control flow (Loop, Scan, If, or any node holding a subgraph): a residual network classifier
  has none, and a loop can run for ever.
Parses our metadata into a ``ModelInfo``; a third-party ResNet with no metadata still runs, on
ImageNet preprocessing, labelled "no metadata".
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import onnx

from .file_contract import FileMetadata
from .limits import MAX_CLASSES, MAX_INPUT_SIDE, MAX_LABEL_CHARS, MAX_METADATA_BYTES, MAX_MODEL_BYTES
from .local_file import Rejected, check_local_file, open_regular
from .ood import OutOfDistribution
from .text import first_line, printable, unsafe_characters

CONTROL_FLOW = {"Loop", "Scan", "If"}
IMAGENET_PREPROCESS = {"resize": 256, "crop": 224, "interpolation": "bilinear",
                       "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "color": "RGB"}


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
    path: Path
    identity: FileIdentity
    name: str
    labels: list[str]
    preprocess: dict[str, Any]
    input_shape: list[int | None]  # [C, H, W] of the file's input, None where dynamic
    num_classes: int
    has_metadata: bool
    variant: str | None = None
    architecture: dict[str, Any] | None = None
    weights: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    precision: str = "fp32"
    dataset: str | None = None
    params: int | None = None
    macs: int | None = None
    activation_outputs: list[str] = field(default_factory=list)
    schema: int = 1
    # act.layerS.B -> {"branch": F(x) output, "shortcut": what is added to it}, where the file has them.
    block_parts: dict[str, dict[str, str]] = field(default_factory=dict)
    cam_layer: str | None = None
    fc_weight: str | None = None
    fc_bias: str | None = None
    logits_name: str = "logits"
    input_name: str = "input"
    fixed_batch: int | None = None  # the input's batch size when the file fixes it (then 1)
    ood: OutOfDistribution | None = None  # out-of-distribution parameters, when the file carries them

    @property
    def weights_source(self) -> str:
        """Where the weights came from, as a user should see it next to every prediction."""
        if not self.has_metadata:
            return "no metadata"
        source = self.weights.get("source")
        source = source if isinstance(source, str) else "unknown"
        if source == "random" or self.weights.get("trained") is False:
            return "untrained (random weights): predictions are meaningless"
        if source == "trained":
            return f"trained on {self.dataset or 'a custom dataset'}"
        if source.startswith("imagenet"):
            return f"torchvision ImageNet weights ({source})"
        return f"weights from {self.weights.get('file', source)}"

    @property
    def accuracy(self) -> float | None:
        """Top-1 as a fraction: the one unit files of schema 2 store. Schema 1 stored ImageNet's as a percent."""
        for key in ("onnx_top1", "test_top1", "validation_top1", "imagenet_top1"):
            value = self.metrics.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if self.schema < 2 and key == "imagenet_top1" and 1 < value <= 100:
                    return value / 100
                if 0 <= value <= 1:
                    return float(value)
        return None

    @property
    def has_activations(self) -> bool:
        return bool(self.activation_outputs)

    @property
    def has_cam(self) -> bool:
        return bool(self.cam_layer and self.fc_weight)


def imagenet_labels() -> list[str]:
    return resources.files("resnet_studio.resources").joinpath("imagenet_classes.txt").read_text().splitlines()


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


def check_preprocess(pre: dict[str, Any], channels: int, path: Path | str) -> dict[str, Any]:
    """The preprocessing a file states, checked and normalised; the exporter checks with this too."""
    try:
        resize, crop = int(pre["resize"]), int(pre["crop"])
        mean = [float(v) for v in pre["mean"]]
        std = [float(v) for v in pre["std"]]
        color = str(pre.get("color", "RGB"))
        interpolation = str(pre.get("interpolation", "bilinear"))
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ModelRejected(f"{path}: metadata 'preprocess' is incomplete or mistyped ({exc})") from None
    if not all(math.isfinite(v) for v in mean + std):
        raise ModelRejected(f"{path}: metadata 'preprocess' has a mean or std that is not a finite number")
    if not (1 <= crop <= resize <= MAX_INPUT_SIDE):
        raise ModelRejected(f"{path}: metadata 'preprocess' has resize {resize} and crop {crop}")
    if color not in ("RGB", "L") or (color == "L") != (channels == 1) or len(mean) != channels \
            or len(std) != channels or any(s <= 0 for s in std):
        raise ModelRejected(f"{path}: metadata 'preprocess' ({color}, {len(mean)} means) does not fit "
                            f"a {channels}-channel input")
    if interpolation not in ("bilinear", "bicubic", "nearest"):
        raise ModelRejected(f"{path}: unsupported interpolation {interpolation!r}")
    return {"resize": resize, "crop": crop, "interpolation": interpolation, "mean": mean, "std": std,
            "color": color}


def read_model(path: str | os.PathLike) -> ModelInfo:
    """Check ``path`` and read what it says about itself. Raises ``ModelRejected`` with a reason."""
    path, _, size = check_local_file(path, ModelRejected, "download the model file first")
    if size > MAX_MODEL_BYTES:
        raise ModelRejected(f"{path}: {size / 2**30:.1f} GiB is over the 2 GiB limit")
    data, identity = _read_once(path)
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # noqa: BLE001 - protobuf raises its own DecodeError among others
        detail = first_line(exc)
        raise ModelRejected(f"{path}: not a readable ONNX file ({detail[:120]})") from None
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in _all_tensors(model.graph)):
        raise ModelRejected(f"{path}: uses external data, which is refused (it can point at any file on disk)")
    flow = sorted({n.op_type for n in model.graph.node
                   if n.op_type in CONTROL_FLOW or any(a.HasField("g") or a.graphs for a in n.attribute)})
    if flow:
        raise ModelRejected(f"{path}: holds control flow ({', '.join(flow)[:80]}), which a residual network "
                            f"classifier never needs and which can run for ever; refused")
    initializer_names = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializer_names]
    if len(inputs) != 1:
        raise ModelRejected(f"{path}: expected one image input, found {len(inputs)}")
    image_input = inputs[0]
    shape = _dims(image_input)
    if image_input.type.tensor_type.elem_type != onnx.TensorProto.FLOAT or len(shape) != 4:
        raise ModelRejected(f"{path}: input '{image_input.name}' should be 4-D float32 [batch, C, H, W], "
                            f"found rank {len(shape)}")
    outputs = {o.name: o for o in model.graph.output}
    logits = outputs.get("logits") or next((o for o in model.graph.output if len(_dims(o)) == 2), None)
    if logits is None or len(_dims(logits)) != 2:
        raise ModelRejected(f"{path}: no 2-D logits output [batch, classes]")
    channels = shape[1]
    if channels not in (1, 3):
        raise ModelRejected(f"{path}: input has {channels} channels; only 1 (greyscale) or 3 (RGB) are supported")
    if any(side is not None and not 1 <= side <= MAX_INPUT_SIDE for side in shape[2:]):
        raise ModelRejected(f"{path}: input of {shape[2]}x{shape[3]} pixels; sides of 1 to {MAX_INPUT_SIDE} "
                            f"are supported")
    if shape[0] not in (None, 0, 1):
        raise ModelRejected(f"{path}: input has a fixed batch of {shape[0]}; only 1 or a dynamic batch is supported")
    num_classes = _dims(logits)[1]
    if num_classes is not None and not 1 <= num_classes <= MAX_CLASSES:
        raise ModelRejected(f"{path}: logits have {num_classes:,} classes; 1 to {MAX_CLASSES:,} are supported")

    metadata_bytes = sum(len(p.key) + len(p.value) for p in model.metadata_props)
    if metadata_bytes > MAX_METADATA_BYTES:
        raise ModelRejected(f"{path}: {metadata_bytes / 2**20:.0f} MiB of metadata is over the "
                            f"{MAX_METADATA_BYTES // 2**20} MiB limit")
    meta = FileMetadata.from_props({p.key: p.value for p in model.metadata_props}, str(path), ModelRejected)
    ours = meta is not None
    if ours:
        labels = meta.labels
        check_labels(labels, f"{path}: metadata 'labels'", ModelRejected)
        preprocess = check_preprocess(meta.preprocess, channels, path)
    else:
        meta = FileMetadata(labels=[], preprocess={}, schema=1)
        labels = []
        height, width = shape[2:]
        if channels != 3 or height != width:
            raise ModelRejected(f"{path}: has no metadata and its input {shape[1:]} does not fit ImageNet "
                                f"preprocessing (3 channels, square)")
        preprocess = dict(IMAGENET_PREPROCESS)
        if height not in (None, 224):
            preprocess.update(crop=height, resize=round(height * 256 / 224))
    if num_classes is None:
        num_classes = len(labels) or None
    if num_classes is None:
        raise ModelRejected(f"{path}: the number of classes is neither in the file's shape nor its labels")
    if ours and len(labels) != num_classes:
        raise ModelRejected(f"{path}: {len(labels)} labels for {num_classes} logits")
    if not labels:
        labels = imagenet_labels() if num_classes == 1000 else [f"class {i}" for i in range(num_classes)]
    fixed = [s for s in shape[2:] if s is not None]
    if fixed and fixed != [preprocess["crop"]] * len(fixed):
        raise ModelRejected(f"{path}: input is {shape[2:]} but preprocessing crops to {preprocess['crop']}")

    activations = meta.activations
    listed = activations.outputs
    if not isinstance(listed, list):
        raise ModelRejected(f"{path}: metadata 'activations' lists its outputs wrongly")
    act_outputs = [name for name in listed if isinstance(name, str) and name in outputs]
    named = {k: v if isinstance(v, str) else None for k, v in
             (("cam_layer", activations.cam_layer), ("fc_weight", activations.fc_weight),
              ("fc_bias", activations.fc_bias))}
    parts = activations.parts
    # Only parts of listed blocks whose outputs exist; anything else in the metadata is ignored.
    block_parts = {block: {role: name for role, name in roles.items()
                           if role in ("branch", "shortcut") and isinstance(name, str) and name in outputs}
                   for block, roles in (parts.items() if isinstance(parts, dict) else ())
                   if block in act_outputs and isinstance(roles, dict)}
    architecture = meta.architecture
    if architecture is not None:
        _check_architecture(architecture, path)
    info = ModelInfo(
        path=path, identity=identity, name=path.stem, labels=labels, preprocess=preprocess, input_shape=[channels, *shape[2:]],
        num_classes=num_classes, has_metadata=ours, logits_name=logits.name, input_name=image_input.name,
        fixed_batch=1 if shape[0] == 1 else None,
        ood=OutOfDistribution.from_metadata(meta.ood, num_classes) if "features" in outputs else None,
        variant=meta.variant,
        architecture=architecture,
        weights=meta.weights,
        metrics=meta.metrics,
        precision=meta.precision,
        dataset=meta.dataset,
        params=meta.params,
        macs=meta.macs,
        activation_outputs=act_outputs,
        schema=meta.schema,
        block_parts={block: roles for block, roles in block_parts.items() if roles},
        cam_layer=named.get("cam_layer") if named.get("cam_layer") in outputs else None,
        fc_weight=named.get("fc_weight") if named.get("fc_weight") in initializer_names else None,
        fc_bias=named.get("fc_bias") if named.get("fc_bias") in initializer_names else None,
    )
    return info


def _check_architecture(arch: dict[str, Any], path: Path) -> None:
    """The diagram reads these fields; a file that lacks them is refused rather than drawn wrong."""

    def ints(value) -> bool:
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)

    def layer_ok(layer) -> bool:
        return (isinstance(layer, dict) and isinstance(layer.get("kind"), str)
                and all(isinstance(layer.get(k), int) for k in ("out_channels", "kernel", "stride", "groups")))

    def block_ok(block) -> bool:
        shortcut = block.get("shortcut") if isinstance(block, dict) else None
        return (isinstance(block, dict) and isinstance(block.get("name"), str) and isinstance(block.get("type"), str)
                and isinstance(block.get("layers"), list) and all(map(layer_ok, block["layers"]))
                and isinstance(shortcut, dict) and isinstance(shortcut.get("type"), str)
                and isinstance(shortcut.get("stride"), int) and ints(block.get("output_shape"))
                and all(isinstance(block.get(k), int) for k in ("params", "macs", "in_channels", "out_channels")))

    stem, stages = arch.get("stem"), arch.get("stages")
    ok = (isinstance(stem, dict) and isinstance(stem.get("layers"), list) and all(map(layer_ok, stem["layers"]))
          and ints(stem.get("output_shape")) and ints(arch.get("input_shape"))
          and isinstance(arch.get("params"), int) and isinstance(arch.get("macs"), int)
          and isinstance(stages, list) and all(
              isinstance(stage, dict) and isinstance(stage.get("name"), str) and ints(stage.get("output_shape"))
              and isinstance(stage.get("blocks"), list) and all(map(block_ok, stage["blocks"]))
              and all(isinstance(stage.get(k), int) for k in ("params", "macs"))
              for stage in stages))
    if not ok:
        raise ModelRejected(f"{path}: metadata 'architecture' does not describe a residual network")


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


def fc_parameters(info: ModelInfo):
    """The classifier's weight [classes, features] and bias, as float32 arrays, for CAM."""
    import numpy as np
    from onnx import numpy_helper

    model = onnx.load_model_from_string(checked_bytes(info.identity))
    found = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer if i.name in (info.fc_weight,
                                                                                              info.fc_bias)}
    weight = found[info.fc_weight].astype(np.float32)
    bias = found.get(info.fc_bias)
    return weight, (bias.astype(np.float32) if bias is not None else np.zeros(len(weight), np.float32))
