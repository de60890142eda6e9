"""PyTorch -> ONNX for every registry variant: exported, verified against PyTorch, self-describing.

The file carries everything the app needs in ``metadata_props`` (labels, preprocessing,
block structure, weights provenance, metrics), so the app never imports torch.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from resnet_studio.core.architecture import Architecture
from resnet_studio.core.contract_parts import Metrics, Preprocess, Tap, Taps, Weights
from resnet_studio.core.file_contract import PRECISIONS, FileMetadata, producer_version
from resnet_studio.core.foreign import imagenet_labels
from resnet_studio.models import build_model, describe, get_variant
from resnet_studio.core.local_file import atomic_path, writable_target
from resnet_studio.models.registry import IMAGENET_MEAN, IMAGENET_STD, Variant
from resnet_studio.models.weights import apply_state_dict, imagenet_entry, resolve_weights

from .errors import ExportError
from .onnx_file import _set_metadata
from .precision import to_fp16, to_int8
from .verify import MIN_AGREEMENT, top1_agreement, verify_fp32
from resnet_studio.core.text import first_line

PRODUCER = "resnet-studio"
EXPORT_BATCH = 2  # at least 2, or the exporter can specialise the batch to 1
MAX_ONNX_BYTES = 2 * 1024**3


# progress(stage, done, total): the stages are download (bytes), build, export, fp16, quantize, verify.
Progress = Callable[[str, int | None, int | None], None]


def _quiet(stage: str, done: int | None = None, total: int | None = None) -> None:
    pass


@dataclass
class Prepared:
    """A model with weights loaded and everything its ONNX metadata will say about it."""

    model: nn.Module
    variant: Variant
    labels: list[str]
    preprocess: Preprocess
    weights: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    dataset: str | None = None

    @property
    def in_channels(self) -> int:
        return self.model.conv1.in_channels

    @property
    def image_size(self) -> int:
        return self.preprocess.crop


@dataclass
class ExportReport:
    path: str
    variant: str
    weights: str
    precision: str
    opset: int
    size_bytes: int
    export_seconds: float
    verify_seconds: float
    outputs: list[str]
    max_abs_diff: float | None = None
    verification: str = ""  # the difference from PyTorch on the logits' own scale, in words
    agreement: float | None = None
    agreement_images: int = 0
    agreement_sample: str = ""
    verified: bool = False
    accuracy: float | None = None
    accuracy_sample: str = ""


def default_labels(variant: Variant, num_classes: int) -> list[str]:
    if num_classes == 1000:
        return imagenet_labels()
    if variant.family == "small" and num_classes == 10:
        from resnet_studio.models.fashion_mnist import CLASSES

        return list(CLASSES)
    return [f"class {i}" for i in range(num_classes)]


def default_preprocess(variant: Variant, image_size: int | None, resize: int | None = None,
                       in_channels: int | None = None) -> Preprocess:
    channels = in_channels or variant.in_channels
    if variant.family == "small":
        from resnet_studio.models.fashion_mnist import MEAN, STD

        size = image_size or variant.input_size
        return Preprocess(size, size, (MEAN,) * channels, (STD,) * channels, "L" if channels == 1 else "RGB")
    crop = image_size or 224
    mean, std = (IMAGENET_MEAN[:1], IMAGENET_STD[:1]) if channels == 1 else (IMAGENET_MEAN, IMAGENET_STD)
    return Preprocess(round(crop * (resize or 256) / 224), crop, mean, std, "L" if channels == 1 else "RGB")


def prepare(variant_name: str, weights: str = "random", num_classes: int | None = None,
            image_size: int | None = None, progress: Progress = _quiet) -> Prepared:
    """Build ``variant_name`` and load ``weights``: random, imagenet[-v1|-v2], or a file."""
    variant = get_variant(variant_name)
    if not weights.startswith("imagenet"):
        progress("build", None, None)
    if weights == "random":
        torch.manual_seed(0)
        classes = num_classes or variant.num_classes
        model = build_model(variant.name, num_classes=classes)
        return Prepared(model, variant, default_labels(variant, classes), default_preprocess(variant, image_size),
                        {"source": "random", "trained": False})
    if weights.startswith("imagenet"):
        if num_classes not in (None, 1000):
            raise ExportError("ImageNet weights have 1000 classes; drop --num-classes or fine-tune with "
                              "'resnet-studio train --data DIR'")
        entry = imagenet_entry(variant, weights)
        state, info = resolve_weights(weights, variant, lambda done, total: progress("download", done, total))
        progress("build", None, None)
        model = build_model(variant.name)
        apply_state_dict(model, state, entry.file)
        info["trained"] = True
        return Prepared(model, variant, imagenet_labels(), default_preprocess(variant, image_size, entry.resize),
                        info, {"imagenet_top1": round(entry.acc1 / 100, 5), "source": "torchvision's published figure"},
                        dataset="ImageNet-1k")
    state, info = resolve_weights(weights, variant)
    trained = info.pop("trained", None) or {}
    if "fc.weight" not in state or "conv1.weight" not in state:
        raise ExportError(f"{weights}: no fc.weight/conv1.weight, not a ResNet state dict")
    classes = int(state["fc.weight"].shape[0])
    if num_classes not in (None, classes):
        raise ExportError(f"{weights} has {classes} classes, not --num-classes {num_classes}")
    in_channels = int(state["conv1.weight"].shape[1])
    model = build_model(variant.name, num_classes=classes, in_channels=in_channels)
    apply_state_dict(model, state, Path(weights).name)
    labels = trained.get("labels") or default_labels(variant, classes)
    if trained.get("variant") not in (None, variant.name):
        raise ExportError(f"{weights} was trained as {trained['variant']}, not {variant.name}")
    if len(labels) != classes:
        raise ExportError(f"{weights} names {len(labels)} labels for {classes} outputs")
    if trained:
        size = image_size or int(trained["input_size"])
        preprocess = Preprocess(int(trained.get("resize", size)), size, tuple(trained["mean"]), tuple(trained["std"]),
                                "L" if in_channels == 1 else "RGB")
        info.update(source="trained", trained=True, dataset=trained.get("dataset"),
                    init=trained.get("weights_init"), command=trained.get("command"))
    else:
        preprocess = default_preprocess(variant, image_size, in_channels=in_channels)
        info["trained"] = True
    return Prepared(model, variant, labels, preprocess, info, dict(trained.get("metrics") or {}),
                    dataset=trained.get("dataset"))


class WithActivations(nn.Module):
    """The network's forward, also returning the stem, each block's F(x), shortcut and output, and
    the pooled features. The block's own ``branch`` and ``shortcut`` compute them, so the sum is the
    block's forward by construction."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        m = self.model
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        taps = [x]
        for stage in m.stages():
            for block in stage:
                branch = block.branch(x)
                if block.residual:
                    shortcut = block.shortcut(x)
                    x = block.relu(branch + shortcut)
                    taps += [x, branch, shortcut]
                else:
                    x = block.relu(branch)
                    taps += [x, branch]
        features = torch.flatten(m.avgpool(x), 1)
        return (m.fc(features), *taps, features)


def block_names(model: nn.Module) -> list[tuple[str, bool]]:
    """(block name, has a shortcut) of every block, in order: layer1.0, ..."""
    return [(f"{name}.{i}", block.residual) for name, stage in zip(model.stage_names, model.stages())
            for i, block in enumerate(stage)]


def output_names(model: nn.Module) -> list[str]:
    """The graph's outputs in ``WithActivations``' order: the tensor of each tap is named act.BLOCK[.ROLE]."""
    names = ["logits", "act.stem"]
    for block, residual in block_names(model):
        names += [f"act.{block}", f"act.{block}.branch"] + ([f"act.{block}.shortcut"] if residual else [])
    return names + ["features"]


def block_taps(model: nn.Module) -> Taps:
    """Each block's input (the output before it), F(x), shortcut and output, as ``output_names`` names them."""
    taps, before = [], "act.stem"
    for block, residual in block_names(model):
        taps += [Tap(block, "input", before), Tap(block, "branch", f"act.{block}.branch"),
                 *([Tap(block, "shortcut", f"act.{block}.shortcut")] if residual else []),
                 Tap(block, "output", f"act.{block}")]
        before = f"act.{block}"
    return Taps(taps, "act.stem", "features", before, "fc.weight", "fc.bias")


def _torch_export(prepared: Prepared, path: Path, opset: int | None) -> None:
    module = WithActivations(prepared.model).eval()
    example = torch.randn(EXPORT_BATCH, prepared.in_channels, prepared.image_size, prepared.image_size)
    kwargs: dict[str, Any] = {"opset_version": opset} if opset else {}
    # The exporter narrates each pass on stdout and warns about optional torchvision ops.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        logging.getLogger("torch.onnx").setLevel(logging.ERROR)
        torch.onnx.export(module, (example,), str(path), dynamo=True, input_names=["input"],
                          output_names=output_names(prepared.model), external_data=False, verbose=False,
                          dynamic_shapes={"x": {0: torch.export.Dim("batch")}}, **kwargs)


def _rename_initializers(model_proto) -> None:
    """Drop the wrapper's "model." prefix so initializers carry torchvision's names (fc.weight, ...)."""
    renames = {}
    for init in model_proto.graph.initializer:
        if init.name.startswith("model."):
            renames[init.name] = init.name[len("model."):]
            init.name = renames[init.name]
    for node in model_proto.graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]


def metadata(prepared: Prepared, precision: str, activations: bool) -> FileMetadata:
    import onnx

    structure = Architecture.from_json(describe(prepared.model, prepared.image_size, variant=prepared.variant.name))
    return FileMetadata(
        labels=prepared.labels,
        preprocess=prepared.preprocess,
        variant=prepared.variant.name,
        architecture=structure,
        weights=Weights.from_json(prepared.weights, "the weights", ExportError),
        metrics=Metrics(dict(prepared.metrics)),
        params=structure.params,
        macs=structure.macs,
        precision=precision,
        dataset=prepared.dataset,
        taps=block_taps(prepared.model) if activations else Taps(),
        producer={"name": PRODUCER, "version": producer_version(), "torch": torch.__version__, "onnx": onnx.__version__},
    )


def _finish_graph(path: Path, meta: FileMetadata, activations: bool) -> None:
    """Rename initializers, drop the activation outputs if unwanted, write metadata; all in place."""
    import onnx

    model = onnx.load(str(path))
    _rename_initializers(model)
    del model.metadata_props[:]
    model.producer_name, model.producer_version = PRODUCER, meta.producer["version"]
    onnx.helper.set_model_props(model, meta.to_props())
    if not activations:
        from resnet_studio.core.graph import logits_only

        model = onnx.shape_inference.infer_shapes(logits_only(model))
    onnx.save_model(model, str(path))


def export(prepared: Prepared, output: Path, *, precision: str = "fp32", opset: int | None = None,
           activations: bool = True, verify: bool = True, samples: np.ndarray | None = None,
           sample_name: str = "", progress: Progress = _quiet) -> ExportReport:
    """Write ``output`` atomically; on any failure nothing is left at ``output``.

    ``samples`` (preprocessed [N, C, H, W]) calibrate int8 and measure fp16/int8 top-1 agreement.
    """
    import onnx

    if precision not in PRECISIONS:
        raise ExportError(f"unknown precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "int8" and samples is None:
        raise ExportError("int8 needs calibration images: pass --calibration DIR")
    output = Path(output)
    if output.is_dir():
        raise ExportError(f"{output} is a directory; give a file path ending in .onnx")
    try:
        writable_target(output)
    except OSError as exc:
        raise ExportError(f"cannot write {output}: {exc.strerror}") from None
    if not output.parent.exists():
        raise ExportError(f"cannot write {output}: folder {output.parent} does not exist")
    if not os.access(output.parent, os.W_OK):
        raise ExportError(f"cannot write {output}: folder {output.parent} is not writable")
    _check_readable(prepared)
    meta = metadata(prepared, precision, activations)
    started = time.perf_counter()
    with atomic_path(output) as tmp:
        fp32 = tmp.with_name(tmp.name + ".fp32.onnx")
        try:
            progress("export", None, None)
            _torch_export(prepared, fp32, opset)
            _finish_graph(fp32, meta, activations)
            exported = time.perf_counter()
            if precision == "fp32":
                os.replace(fp32, tmp)
            elif precision == "fp16":
                progress("fp16", None, None)
                to_fp16(fp32, tmp)
            else:
                progress("quantize", None, None)
                to_int8(fp32, tmp, samples)
            written = onnx.load(str(tmp), load_external_data=False)
            report = ExportReport(
                path=str(output), variant=prepared.variant.name, weights=prepared.weights.get("source", "?"),
                precision=precision, size_bytes=tmp.stat().st_size, export_seconds=round(exported - started, 2),
                verify_seconds=0.0, outputs=[o.name for o in written.graph.output],
                opset=next(o.version for o in written.opset_import if o.domain in ("", "ai.onnx")))
            if opset and report.opset != opset:
                raise ExportError(f"opset {opset} was asked for but the exporter wrote {report.opset}")
            if report.size_bytes > MAX_ONNX_BYTES:
                raise ExportError(f"{report.size_bytes / 2**30:.1f} GiB is over the 2 GiB a single ONNX file holds")
            if verify:
                progress("verify", None, None)
                _verify(prepared, report, tmp, fp32, meta, samples, sample_name)
            report.verify_seconds = round(time.perf_counter() - exported, 2)
        except onnx.checker.ValidationError as exc:
            raise ExportError(f"verification failed: onnx.checker: {first_line(exc)}") from None
        finally:
            fp32.unlink(missing_ok=True)
    return report


def _verify(prepared: Prepared, report: ExportReport, written: Path, fp32: Path, meta: FileMetadata,
            samples: np.ndarray | None, sample_name: str) -> None:
    """Check the written file and record what was found in its metrics: the difference from PyTorch, and
    for fp16 and int8 the top-1 agreement with the fp32 file it was made from."""
    import onnx

    onnx.checker.check_model(str(written), full_check=True)
    checked = verify_fp32(prepared.model, written if report.precision == "fp32" else fp32, prepared.in_channels,
                          prepared.image_size)
    report.max_abs_diff, report.verification = checked.max_abs_diff, checked.line()
    metrics = {**meta.metrics.values, "verification": checked.to_json()}
    if report.precision != "fp32":
        probe = samples if samples is not None else _synthetic(prepared)
        report.agreement = round(top1_agreement(fp32, written, probe), 4)
        report.agreement_images = len(probe)
        report.agreement_sample = sample_name if samples is not None else "synthetic noise"
        if prepared.weights.get("trained") and report.agreement < MIN_AGREEMENT:
            raise ExportError(f"verification failed: {report.precision} agrees with fp32 on top-1 for only "
                              f"{report.agreement:.1%} of {len(probe)} images")
        metrics.update({f"{report.precision}_top1_agreement_with_fp32": report.agreement,
                        "agreement_images": len(probe), "agreement_sample": report.agreement_sample})
    _set_metadata(written, {"metrics": metrics})
    report.size_bytes = written.stat().st_size
    report.verified = True


def _check_readable(prepared: Prepared) -> None:
    """The reader's own checks, before anything is written: never export a file the app would refuse."""
    from resnet_studio.core.model_file import ModelRejected, check_written_labels

    try:
        check_written_labels(prepared.labels, "the labels", ModelRejected)
        prepared.preprocess.check("the preprocessing", ModelRejected, prepared.in_channels)
    except ModelRejected as exc:
        raise ExportError(f"{exc}; nothing was written") from None


def _synthetic(prepared: Prepared, count: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    shape = (count, prepared.in_channels, prepared.image_size, prepared.image_size)
    return rng.standard_normal(shape, dtype=np.float32)
