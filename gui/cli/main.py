"""``resnet-studio``: the app's command line. Subcommands load only what they need.

``train`` imports torch; ``predict`` and ``models`` run on ONNX Runtime alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from resnet_studio.core.arguments import Parser, int_in
from resnet_studio.core.limits import MAX_CLASSES
from resnet_studio.core.openvino_runtime import RUNTIMES
from resnet_studio.core.presets import PRESET_NAMES
from resnet_studio.core.local_file import writable_target
from resnet_studio.core.text import printable
from resnet_studio.core.walk import expand

USAGE = """usage: resnet-studio [IMAGE...] [--model NAME|PATH] [--device auto|cpu|cuda]   (the app)
       resnet-studio COMMAND [ARGS]

commands:
  predict IMAGE... [--model NAME|PATH] [--top-k K] [--json] [--device auto|cpu|cuda]
          [--output FILE.jsonl|FILE.csv] [--ray [ADDRESS]]   (--ray: on a Ray cluster)
  models [--all] [--json]  list the models the app can use (--all: every variant, exported or not)
  bench [--model NAME|PATH|VARIANT] [--batch N] [--precision fp32|fp16|int8] [--json]
  train [VARIANT] [...] train on Fashion-MNIST, or fine-tune on a folder (--data DIR)
  lesion MODEL [--images N | --data FOLDER] [--json]   accuracy with each single block removed
  evaluate FOLDER [--model M] [--json]   accuracy, precision, recall and confusion on FOLDER/CLASS/images
  explain IMAGE... --output DIR [--model M] [--layer BLOCK] [--method cam|score-cam] [--class K]

Run 'resnet-studio COMMAND --help' for a command's options."""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="a model name from 'resnet-studio models', or an .onnx path")
    p.add_argument("--models-dir", help="user models folder (default: $RESNET_STUDIO_MODELS or the platform's)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--runtime", default="auto", choices=RUNTIMES,
                   help="the CPU runtime (default: OpenVINO where it is installed and this CPU runs it fastest)")
    p.add_argument("--verbose", action="store_true", help="say why CUDA is not in use, in full")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def predict(argv: list[str]) -> int:
    p = Parser(prog="resnet-studio predict", description="Classify images with an ONNX model.")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--top-k", type=int_in(1, MAX_CLASSES), default=5)
    p.add_argument("--batch", type=int_in(1, 4096), default=8)
    p.add_argument("--output", help="stream the results to this .jsonl (one --json result a line) or .csv file")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run on a Ray cluster (ADDRESS, e.g. auto or ray://host:10001; none: start a local one)")
    p.add_argument("--workers", type=int_in(1, 100_000),
                   help="with --ray: ONNX Runtime actors (default: one per GPU, else one per CPU)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32"],
                   help="auto: a variant runs as its fastest twin for the device, as in the app; fp32: its fp32 "
                        "twin, with fp32 arithmetic (OpenVINO's automatic bf16 off)")
    p.add_argument("--preprocess", type=_preset, metavar="PRESET|JSON",
                   help="for a file without our metadata: the preprocessing its weights were trained with, one of "
                        f"{', '.join(PRESET_NAMES)}, or a JSON object with resize, crop, mean, std (and color, "
                        "interpolation, resize_mode) (default: the one chosen in the app, else a guess from the graph)")
    p.add_argument("--labels", type=Path, metavar="FILE",
                   help="for a file without our metadata: its class names, one a line")
    _common(p)
    args = p.parse_args(argv)
    from resnet_studio.core.report import STREAM_SUFFIXES

    if args.output and Path(args.output).suffix.lower() not in STREAM_SUFFIXES:
        print("resnet-studio predict: --output: choose a .jsonl or .csv file name", file=sys.stderr)
        return 2
    if args.output:
        try:
            writable_target(args.output)  # refused now, not after classifying every image
        except OSError as exc:
            print(printable(f"resnet-studio predict: --output {args.output}: {exc.strerror or exc}"), file=sys.stderr)
            return 2
    from resnet_studio.core.engine import Engine
    from resnet_studio.core.model_file import ModelRejected
    from resnet_studio.core.session import ProviderError, RunFailed, SessionPool

    try:
        engine = Engine(SessionPool(args.device, runtime=args.runtime, exact=args.precision == "fp32"))
        info = _model_for(args, engine)
    except (ModelRejected, ProviderError) as exc:
        print(printable(f"resnet-studio predict: {exc}"), file=sys.stderr)
        return 2
    k = min(args.top_k, info.num_classes)
    if args.ray is not None:
        from . import cluster

        classified = cluster.classify(info, list(expand(args.images)), args.ray or None, k, args.batch, args.device,
                                      args.workers, args.runtime)
    else:
        classified = engine.classify_files(info, expand(args.images), k, args.batch)
    started = time.perf_counter()
    if args.output:
        return _stream(classified, args.output, k, started)
    failed = total = 0
    header_shown = False
    results = []
    try:
        for result in classified:
            total += 1
            failed += not result.ok
            if args.json:
                results.append(result.to_json())
                continue
            if not header_shown and result.provider:
                note = f" (CUDA not in use: {result.provider_note})" if result.provider_note and args.verbose else ""
                print(printable(f"model {info.name}: {_provenance(info)}; running on {result.provider_label}{note}"))
                header_shown = True
            if result.ok:
                best = ", ".join(f"{p.label} {p.percent}" for p in result.predictions)
                unlike = " [unlike this model's training data]" if result.out_of_distribution else ""
                print(printable(f"{result.source}: {best}{unlike}"))
            else:
                print(printable(f"{result.source}: error: {result.error.removeprefix(result.source + ': ')}"))
    except (ProviderError, RunFailed, *_cluster_errors()) as exc:  # the model cannot run at all: one line, and stop
        print(printable(f"resnet-studio predict: {exc}"), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"model": model_json(info), "results": results, "images": total, "failed": failed},
                         indent=2))
    return _summary(total, failed, started)


def _model_for(args, engine):
    """The model ``--model`` names, as the device runs it best, read with ``--preprocess`` where given."""
    from resnet_studio.core.catalog import Catalog
    from resnet_studio.core.model_file import ModelRejected, read_model
    from resnet_studio.core.preprocess import describe_input
    from resnet_studio.gui.viewmodel import lineup

    providers, _ = engine.pool.provider_plan()
    device = "cpu" if providers == ["CPUExecutionProvider"] else "cuda"
    info = lineup.resolve(Catalog(args.models_dir), args.model, device, args.precision)
    if (args.preprocess or args.labels) and info.has_metadata:
        raise ModelRejected(f"--preprocess and --labels: {info.name} states its own preprocessing "
                            f"({describe_input(info.preprocess)}) and labels; they are for files without them")
    if args.preprocess or args.labels:
        return read_model(info.path, preset=args.preprocess, labels_file=args.labels)
    return info


def _preset(text: str):
    from resnet_studio.core.presets import parse

    try:
        return parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cluster_errors() -> tuple[type[Exception], ...]:
    from .cluster import ClusterError

    return (ClusterError,)


def _stream(results, output: str, k: int, started: float) -> int:
    from resnet_studio.core.report import ReportError, stream
    from resnet_studio.core.session import ProviderError, RunFailed

    try:
        total, failed = stream(output, results, k)
    except (ProviderError, RunFailed, ReportError, *_cluster_errors()) as exc:
        print(printable(f"resnet-studio predict: {exc}"), file=sys.stderr)
        return 2
    return _summary(total, failed, started, f"; results in {output}")


def _summary(total: int, failed: int, started: float, where: str = "") -> int:
    """The closing line on stderr, and the exit code: 1 when any image failed or none was found."""
    elapsed = time.perf_counter() - started
    if total == 0:
        print("no images found", file=sys.stderr)
    else:
        print(printable(f"{total} image(s) in {elapsed:.1f} s ({total / elapsed:.1f} img/s), {failed} failed{where}"),
              file=sys.stderr)
    return 1 if failed or total == 0 else 0


def train(argv: list[str]) -> int:
    try:
        from resnet_studio.export.errors import ExportError
        from resnet_studio.export.trained import export_trained
        from resnet_studio.models import train as training
    except ImportError as exc:
        print(f"resnet-studio train needs PyTorch ({exc.name} is missing): pip install 'torch>=2.10'",
              file=sys.stderr)
        return 2

    def export(run: training.Trained) -> None:
        if run.export is None:
            return
        if run.held_out is not None and run.training is not None:
            export_trained(run.checkpoint, Path(run.export), samples=run.held_out[0], labels=run.held_out[1],
                           sample_name="validation split", quiet=run.quiet, train_samples=run.training[0],
                           train_labels=run.training[1], folder=run.folder or "")
        else:
            export_trained(run.checkpoint, Path(run.export), quiet=run.quiet)

    return training.main(argv, export, (ExportError,))


def _provenance(info) -> str:
    """Where the weights came from; for a file without metadata, what was found and how it is read."""
    if info.has_metadata:
        return info.weights_source
    from resnet_studio.gui.viewmodel.naming import found_family

    return f"{found_family(info.architecture)}, {info.weights_source}"


def model_json(info) -> dict:
    from resnet_studio.gui.viewmodel.naming import found_family, model_title

    discovery = info.discovery
    return {"name": info.name, "path": str(info.path), "variant": info.variant, "weights": info.weights_source,
            "weights_source": info.meta.weights.source if info.has_metadata else None,
            "classes": info.num_classes, "precision": info.precision, "accuracy": info.accuracy,
            "dataset": info.meta.dataset, "params": info.meta.params, "macs": info.meta.macs,
            "activations": info.has_activations, "cam": info.has_cam, "metadata": info.has_metadata,
            "title": model_title(info, long=True),
            "found": None if discovery is None else {
                "family": found_family(info.architecture), "summary": discovery.summary(),
                "blocks": len(info.taps.blocks()), "layout": discovery.layout, "input": info.input.describe(),
                "output": info.output.describe(), "preset": discovery.preset, "preset_guessed": discovery.preset_guessed,
                "labels_from": discovery.labels_from, "notes": discovery.notes}}


def models(argv: list[str]) -> int:
    p = Parser(prog="resnet-studio models", description="List the models the app can use.")
    p.add_argument("paths", nargs="*", help="extra .onnx files to check")
    p.add_argument("--models-dir")
    p.add_argument("--all", action="store_true",
                   help="every model as the app's picker lists it: twins grouped, and the variants not exported yet")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from resnet_studio.core.catalog import Catalog

    catalog = Catalog(args.models_dir, args.paths)
    if args.all:
        return _all_models(catalog, args.json)
    rows = []
    for entry in catalog.entries():
        row = {"origin": entry.origin, "group": entry.group}
        row.update(model_json(entry.info) if entry.info else {"name": entry.name, "path": str(entry.path),
                                                                "error": entry.error})
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        if "error" in row:
            print(printable(f"{row['name']:<32} unusable: {row['error']}"))
            continue
        accuracy = f"{row['accuracy']:.2%}" if row["accuracy"] is not None else "–"
        variant = row["variant"] or (row["found"] or {}).get("family") or "?"
        print(printable(f"{row['name']:<32} {variant:<16} {row['precision']:<5} {row['classes']:>5} "
                        f"classes  top-1 {accuracy:>7}  {'activations' if row['activations'] else 'logits only':<12} "
                        f"{row['weights']}"))
    print(f"(user models folder: {catalog.models_dir})")
    return 0


def _all_models(catalog, as_json: bool) -> int:
    from resnet_studio.models.registry import VARIANTS

    from resnet_studio.gui.viewmodel.lineup import GROUP_TITLES, offers

    listed = offers(catalog)
    if as_json:
        rows = []
        for offer in listed:
            row = {"name": offer.title, "group": offer.group, "variant": offer.variant, "state": offer.state(),
                   "exported": offer.exported, "files": {p: str(e.path) for p, e in offer.files.items()},
                   "weights": offer.weights, "error": offer.error}
            if not offer.exported and offer.variant:
                row["command"] = offer.export_command(catalog.models_dir)
            if offer.checkpoint is not None:
                row["checkpoint"] = {"url": offer.checkpoint.url, "cache_path": str(offer.checkpoint.cache_path),
                                     "cached": offer.checkpoint_cached,
                                     "download_bytes": VARIANTS[offer.variant].checkpoint_bytes()}
            rows.append(row)
        print(json.dumps(rows, indent=2))
        return 0
    group = None
    for offer in listed:
        if offer.group != group:
            group = offer.group
            print(f"{GROUP_TITLES[group]}:")
        print(f"  {printable(offer.line())}")
        if not offer.exported and offer.variant:
            print(f"      make it: {printable(offer.export_command(catalog.models_dir))}")
    print(f"(user models folder: {catalog.models_dir}; a variant not exported yet is made with the command "
          f"under it, or by choosing it in the app)")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # File names need not be valid UTF-8; print them escaped rather than fail on them.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    command, rest = (argv[0], argv[1:]) if argv else (None, [])
    commands = {"train": train, "predict": predict, "models": models, "bench": _bench, "lesion": _lesion,
                "explain": _explain, "evaluate": _evaluate}
    if command in commands:
        try:
            return commands[command](rest)
        except BrokenPipeError:  # `resnet-studio predict DIR | head`: the reader has all it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    if command in ("-h", "--help"):
        print(USAGE)
        return 0
    from resnet_studio.gui.qt.app import main as app_main

    return app_main(argv)


def _lesion(argv: list[str]) -> int:
    from .lesion import main as lesion_main

    return lesion_main(argv)


def _evaluate(argv: list[str]) -> int:
    from .evaluate import main as evaluate_main

    return evaluate_main(argv)


def _explain(argv: list[str]) -> int:
    from .explain import main as explain_main

    return explain_main(argv)


def _bench(argv: list[str]) -> int:
    from .bench import main as bench_main

    return bench_main(argv)


if __name__ == "__main__":
    sys.exit(main())
