"""``resnet-studio lesion MODEL``: top-1 accuracy with each single block removed, as Veit et al. (2016,
"Residual Networks Behave Like Ensembles of Relatively Shallow Networks", Fig. 3) measured it."""

from __future__ import annotations

import json
import sys

import numpy as np

from resnet_studio.core.arguments import Parser, int_in
from resnet_studio.core.openvino_runtime import RUNTIMES
from resnet_studio.core.text import printable


def _inputs(args, engine, info) -> tuple[np.ndarray, np.ndarray, str]:
    """Model inputs, true classes, and what they are in words."""
    from PIL import Image

    if args.data:
        from resnet_studio.core.labelled_folder import labelled_images

        found = labelled_images(args.data, info.labels)
        inputs = np.stack([engine.model_input(info, engine.decode(info, path)) for path, _ in found])
        return inputs, np.array([c for _, c in found]), f"{len(found)} images of {args.data}"
    from resnet_studio.models.fashion_mnist import CLASSES, load_split

    if list(info.labels) != CLASSES:
        raise ValueError(f"{info.name} is not a Fashion-MNIST model: pass --data FOLDER (FOLDER/CLASS/image)")
    images, labels = load_split("test")
    count = min(args.images, len(labels))
    inputs = np.stack([engine.model_input(info, Image.fromarray(image, "L")) for image in images[:count]])
    return inputs, labels[:count], f"the first {count} Fashion-MNIST test images"


def main(argv: list[str]) -> int:
    p = Parser(prog="resnet-studio lesion",
               description="Top-1 accuracy with each single block removed (Veit et al. 2016, Fig. 3): a residual "
                           "network barely notices most removals, a plain one does.")
    p.add_argument("model", help="a model name from 'resnet-studio models', or an .onnx path")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--images", type=int_in(1, 10_000), default=1000,
                        help="the first N Fashion-MNIST test images, for the shipped models (default 1000)")
    source.add_argument("--data", metavar="FOLDER", help="a labelled folder: FOLDER/CLASS/image, classes by name")
    p.add_argument("--models-dir", help="user models folder (default: $RESNET_STUDIO_MODELS or the platform's)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--runtime", default="auto", choices=RUNTIMES)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args(argv)
    from resnet_studio.core.catalog import Catalog
    from resnet_studio.core.engine import Engine
    from resnet_studio.core.labelled_folder import FolderError
    from resnet_studio.core.lesion_study import sweep
    from resnet_studio.core.model_file import ModelRejected
    from resnet_studio.core.session import ProviderError, RunFailed, SessionPool
    from resnet_studio.gui.viewmodel import lineup
    from resnet_studio.models.fashion_mnist import DatasetError

    try:
        # fp32 arithmetic on the fp32 twin: a removal's effect, not a rounding's.
        engine = Engine(SessionPool(args.device, runtime=args.runtime, exact=True))
        info = lineup.resolve(Catalog(args.models_dir), args.model, "cpu", "fp32")
        if info.architecture is None:
            raise ValueError(f"{info.name}: no residual structure found, so no blocks to remove")
        inputs, truth, what = _inputs(args, engine, info)
        progress = None if args.json or not sys.stderr.isatty() else lambda done, total: print(f"\r{done}/{total} blocks", end="",
                                                                     file=sys.stderr, flush=True)
        report = sweep(engine, info, inputs, truth, progress)
    except (ModelRejected, ProviderError, RunFailed, FolderError, DatasetError, ValueError, OSError) as exc:
        print(printable(f"resnet-studio lesion: {exc}"), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    if progress:
        print(file=sys.stderr)
    print(printable(f"{info.name} on {what}: intact top-1 {report['intact_accuracy']:.1%}"))
    for row in report["blocks"]:
        change = "" if row["accuracy"] is None else f"{row['accuracy']:.1%}  ({row['accuracy'] - report['intact_accuracy']:+.1%})"
        print(printable(f"  without {row['block']:<10} {row['kind']:<10} {change or 'kept: ' + row['reason']}"))
    kept = [r["accuracy"] for r in report["blocks"] if r["kind"] == "identity" and r["accuracy"] is not None]
    if kept:
        print(f"identity blocks removed one at a time: median {np.median(kept):.1%}, worst {min(kept):.1%}")
    return 0
