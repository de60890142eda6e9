"""``resnet-export``: PyTorch -> ONNX for any variant, verified and self-describing."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from resnet_studio.core.arguments import Parser, int_in
from resnet_studio.core.limits import MAX_CLASSES, MAX_INPUT_SIDE
from resnet_studio.core.text import first_line, printable
from resnet_studio.core.export_protocol import event_line, export_file_name
from resnet_studio.models.registry import VARIANTS, UnknownVariantError, get_variant

EXAMPLES = """examples:
  resnet-export --list
  resnet-export resnet50 --weights imagenet --output resnet50.onnx
  resnet-export resnet18 --weights my_finetune.pth --precision int8 --calibration photos/
  resnet-export all --weights random --no-verify
  resnet-export adopt keras-resnet50.onnx --preprocess keras-caffe --output keras-resnet50-adopted.onnx
"""


# torch.onnx's exporter writes 18 when asked for less; ONNX Runtime 1.31 runs up to 25 (both checked here).
OPSETS = (18, 25)


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="resnet-export", description=__doc__, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("variant", nargs="?", help="a registry variant, or 'all'")
    p.add_argument("--list", action="store_true", help="list the variants and exit")
    p.add_argument("--weights", default="random",
                   help="random (default), imagenet, imagenet-v1, imagenet-v2, or a .pth/.pt/.safetensors file")
    p.add_argument("--num-classes", type=int_in(1, MAX_CLASSES),
                   help="classifier size (random weights; files set their own)")
    p.add_argument("--output", type=Path, help="file to write (default VARIANT-WEIGHTS-PRECISION.onnx; "
                                                  "a folder with 'all')")
    p.add_argument("--opset", type=int_in(*OPSETS),
                   help=f"ONNX opset {OPSETS[0]}-{OPSETS[1]} (default: the exporter's, 20 with torch 2.13)")
    p.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"])
    p.add_argument("--calibration", type=Path, help="folder of images to calibrate int8 and measure agreement")
    p.add_argument("--image-size", type=int_in(16, MAX_INPUT_SIDE),
                   help="input size (default: the variant's, 224 or 28)")
    p.add_argument("--no-activations", action="store_true", help="export the logits output alone")
    p.add_argument("--no-verify", action="store_true", help="skip the checker and the ORT-vs-PyTorch check")
    p.add_argument("--json", action="store_true", help="print a machine-readable report")
    p.add_argument("--progress-json", action="store_true",
                   help="print each stage as one JSON object per line on stdout (download bytes, build, export, "
                        "fp16, quantize, verify, score), then a 'done' or 'error' line; for the app")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def list_variants(as_json: bool) -> None:
    from resnet_studio.models.registry import Variant

    def row(v: Variant) -> dict:
        return {"variant": v.name, "family": v.family, "block": v.block, "layers": list(v.layers),
                "groups": v.groups, "width_per_group": v.width_per_group or v.stage_planes[0],
                "input_size": v.input_size, "in_channels": v.in_channels, "params": v.params(),
                "gmacs": round(v.macs() / 1e9, 3), "weights": v.weight_sources, "summary": v.summary}

    rows = [row(v) for v in VARIANTS.values()]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'variant':<18} {'params':>12} {'GMACs':>7} {'input':>9}  weights")
    for r in rows:
        size = f"{r['in_channels']}x{r['input_size']}²"
        print(f"{r['variant']:<18} {r['params']:>12,} {r['gmacs']:>7.3f} {size:>9}  {', '.join(r['weights'])}")


def default_output(variant: str, weights: str, precision: str) -> Path:
    return Path(export_file_name(variant, weights, precision))


def summary(report) -> str:
    outputs = report.outputs
    extra = f" + {len(outputs) - 1} activation outputs" if len(outputs) > 1 else ""
    lines = [f"{report.variant} ({report.weights}, {report.precision}) -> {report.path}",
             f"  size {report.size_bytes / 1e6:.1f} MB, opset {report.opset}, outputs: logits{extra}",
             f"  export {report.export_seconds:.1f} s, verify {report.verify_seconds:.1f} s"]
    if report.verification:
        lines.append(f"  ORT vs PyTorch (batch 1 and 3): {report.verification}")
    if report.agreement is not None:
        lines.append(f"  top-1 agreement with fp32: {report.agreement:.2%} of {report.agreement_images} "
                     f"images ({report.agreement_sample})")
    if report.accuracy is not None:
        lines.append(f"  top-1 {report.accuracy:.2%} on the {report.accuracy_sample} (ONNX Runtime)")
    if not report.verified:
        lines.append("  not verified (--no-verify)")
    return "\n".join(lines)


def emit(event: dict) -> None:
    print(event_line(**event), flush=True)


def stage_printer(args: argparse.Namespace):
    """The progress callback: JSON lines for the app, a download counter on a terminal, else nothing."""
    if args.progress_json:
        return lambda stage, done, total: emit({"stage": stage, "done": done, "total": total})
    if args.quiet or args.json or not sys.stderr.isatty():
        return lambda stage, done, total: None

    def show(stage, done, total):
        if stage == "download":
            of = f" of {total / 1e6:.0f}" if total else ""
            end = "\n" if total and done >= total else ""
            print(f"\rdownloading {done / 1e6:.0f}{of} MB", end=end, file=sys.stderr, flush=True)

    return show


def export_one(args: argparse.Namespace, variant: str, output: Path):
    from .api import export, prepare
    from .scoring import fashion_mnist_samples, folder_samples

    progress = stage_printer(args)
    prepared = prepare(variant, args.weights, args.num_classes, args.image_size, progress=progress)
    samples, sample_name = None, ""
    if args.calibration:
        samples, skipped = folder_samples(args.calibration, prepared.preprocess)
        sample_name = f"{len(samples)} images from {args.calibration}"
        if skipped and not args.quiet:
            print(printable(f"skipped {len(skipped)} unreadable calibration file(s), e.g. {skipped[0]}"),
                  file=sys.stderr)
    elif args.precision != "fp32" and prepared.variant.family == "small" and prepared.in_channels == 1:
        samples = fashion_mnist_samples(prepared.preprocess, 512, split="train")
        sample_name = "512 Fashion-MNIST training images"
    report = export(prepared, output, precision=args.precision, opset=args.opset,
                    activations=not args.no_activations, verify=not args.no_verify,
                    samples=samples, sample_name=sample_name, progress=progress)
    if prepared.dataset == "Fashion-MNIST" and not args.no_verify:
        from .scoring import fashion_mnist_test, record_accuracy

        progress("score", None, None)
        test_images, test_labels, test_name = fashion_mnist_test(prepared.preprocess)
        report.accuracy = record_accuracy(output, test_images, test_labels, test_name)
        report.accuracy_sample = test_name
    return report


def run(args: argparse.Namespace) -> int:
    if not args.variant:
        raise UsageError("give a variant (see --list), 'all', or --list")
    names = list(VARIANTS) if args.variant == "all" else [get_variant(args.variant).name]
    if args.variant == "all":
        folder = args.output or Path(".")
        if not folder.is_dir():
            raise UsageError(f"with 'all', --output must be an existing folder, not {folder}")
        if not args.weights.startswith(("random", "imagenet")):
            raise UsageError("with 'all', --weights must be random or imagenet*")
        if args.weights.startswith("imagenet"):
            names = [n for n in names if VARIANTS[n].imagenet]
    weights = Path(args.weights)
    if args.variant != "all" and args.output and weights.is_file() and args.output.resolve() == weights.resolve():
        raise UsageError(f"--output {args.output} is the --weights file; it would be overwritten")
    reports = []
    started = time.monotonic()
    for index, name in enumerate(names):
        default = default_output(name, args.weights, args.precision)
        output = (args.output or Path(".")) / default if args.variant == "all" else args.output or default
        if len(names) > 1 and not args.quiet:
            done = int(24 * index / len(names))
            print(f"[{'#' * done}{'.' * (24 - done)}] {index}/{len(names)} {name} "
                  f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
        report = export_one(args, name, output)
        reports.append(report)
        if args.progress_json:
            from dataclasses import asdict

            emit({"stage": "done", "report": asdict(report)})
        elif not args.quiet and not args.json:
            print("\n".join(printable(line) for line in summary(report).splitlines()))
    if args.json:
        from dataclasses import asdict

        print(json.dumps([asdict(r) for r in reports] if len(reports) > 1 else asdict(reports[0]), indent=2))
    return 0


class UsageError(Exception):
    pass


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def adopt_main(argv: list[str]) -> int:
    """resnet-export adopt FOREIGN.onnx --output F.onnx: a self-describing copy of another tool's file."""
    from resnet_studio.core.presets import PRESET_NAMES, parse

    from resnet_studio.core.file_contract import producer_version

    from .adopt import adopt
    from .errors import ExportError

    def preset(text: str):
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    p = Parser(prog="resnet-export adopt", description=adopt_main.__doc__)
    p.add_argument("source", type=Path, help="an ONNX ResNet another tool wrote")
    p.add_argument("--output", type=Path, required=True, help="the self-describing copy to write")
    p.add_argument("--preprocess", type=preset, metavar="PRESET|JSON",
                   help=f"one of {', '.join(PRESET_NAMES)}, or JSON (default: the app's choice, else its guess)")
    p.add_argument("--labels", type=Path, metavar="FILE", help="class names, one a line")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        report = adopt(args.source, args.output, args.preprocess, args.labels, producer_version())
    except (ExportError, OSError) as exc:
        print(printable(f"resnet-export adopt: {getattr(exc, 'strerror', None) or exc}"), file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.json else printable(
        f"wrote {report['to']}: {report['blocks']} blocks found, preset {report['preset']}, the same classes as "
        f"{report['from']} (largest difference {report['largest_difference']:.2g})"))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return adopt_main(argv[1:]) if argv and argv[0] == "adopt" else export_main(argv)
    except BrokenPipeError:  # `resnet-export --list | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def export_main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.list:  # answered from the registry alone, before torch is imported
        list_variants(args.json)
        return 0
    # The app cancels with SIGTERM: unwinding as for Ctrl-C removes every temp file.
    signal.signal(signal.SIGTERM, _interrupt)
    from .errors import ExportError
    from resnet_studio.models.checkpoint import CheckpointError
    from resnet_studio.models.fashion_mnist import DatasetError
    from resnet_studio.models.weights import DownloadError, WeightsError

    def fail(message: str, code: int, **extra) -> int:
        if args.progress_json:
            emit({"stage": "error", "message": message, **extra})
        print(printable(f"resnet-export: {message}"), file=sys.stderr)
        return code

    try:
        return run(args)
    except UsageError as exc:
        return fail(str(exc), 2)
    except DownloadError as exc:
        return fail(str(exc), 1, download={"url": exc.url, "cache_path": str(exc.cache_path)})
    except (ExportError, UnknownVariantError, WeightsError, CheckpointError, DatasetError, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        return fail(str(exc), 1)
    except KeyboardInterrupt:
        return fail("interrupted; nothing was written", 130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
        if args.debug:
            traceback.print_exc()
        return fail(f"unexpected {type(exc).__name__}: {first_line(exc)}"
                    f" (rerun with --debug for details)", 1)


if __name__ == "__main__":
    sys.exit(main())
