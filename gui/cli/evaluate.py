"""``resnet-studio evaluate FOLDER --model M``: a model scored on a labelled folder (FOLDER/CLASS/image,
classes matched to the model's labels by name): accuracy, per-class precision and recall, the confusion
matrix, and the images it got wrong or was least sure of."""

from __future__ import annotations

import json
import sys

from resnet_studio.core.arguments import Parser
from resnet_studio.core.openvino_runtime import RUNTIMES
from resnet_studio.core.text import printable

SHOWN_IMAGES = 10  # misclassified images listed in the text report (--json lists all)


def _text(report: dict) -> None:
    from resnet_studio.core.engine import percent
    from resnet_studio.core.evaluation import accuracy_text

    print(printable(f"{report['model']} on {report['folder']}: "
                    f"{accuracy_text(report['correct'], report['images'])}"))
    present = report["classes_present"]
    labels = report["labels"]
    index = [labels.index(name) for name in present]
    width = max(9, *(len(printable(n)) for n in present))
    print(f"{'class'.ljust(width)}  images  precision  recall")
    for row in report["per_class"]:
        precision = "–" if row["precision"] is None else f"{row['precision']:.1%}"
        recall = "–" if row["recall"] is None else f"{row['recall']:.1%}"
        print(printable(f"{row['label'][:width].ljust(width)}  {row['images']:6d}  {precision:>9}  {recall:>6}"))
    print("confusion (rows: true class, columns: predicted)")
    print(" " * (width + 3) + "".join(f"{i:>6}" for i in range(len(index))))
    for i, c in enumerate(index):
        counts = [report["confusion"][c][d] for d in index]
        print(printable(f"{present[i][:width].ljust(width)}{i:>3}") + "".join(f"{n:>6}" for n in counts))
    for title, key in (("misclassified", "misclassified"), ("least confident (right answers)", "least_confident")):
        rows = report[key]
        if rows:
            print(f"{title}: {len(rows)}" + (f", the first {SHOWN_IMAGES}" if len(rows) > SHOWN_IMAGES else ""))
        for image in rows[:SHOWN_IMAGES]:
            print(printable(f"  {image['path']}: {image['truth']} → {image['predicted']} ({percent(image['confidence'])})"))
    for failure in report["failed"]:
        print(printable(f"unreadable: {failure['reason']}"), file=sys.stderr)


def main(argv: list[str]) -> int:
    p = Parser(prog="resnet-studio evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="one subfolder of images per class, each named as one of the model's labels")
    p.add_argument("--model", help="a model name from 'resnet-studio models', or an .onnx path")
    p.add_argument("--models-dir", help="user models folder (default: $RESNET_STUDIO_MODELS or the platform's)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--runtime", default="auto", choices=RUNTIMES)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = p.parse_args(argv)
    from resnet_studio.core.catalog import Catalog
    from resnet_studio.core.engine import Engine
    from resnet_studio.core.evaluation import evaluate
    from resnet_studio.core.labelled_folder import FolderError
    from resnet_studio.core.model_file import ModelRejected
    from resnet_studio.core.session import ProviderError, RunFailed, SessionPool
    from resnet_studio.gui.viewmodel import lineup

    try:
        engine = Engine(SessionPool(args.device, runtime=args.runtime))
        info = lineup.resolve(Catalog(args.models_dir), args.model, "cuda" if args.device == "cuda" else "cpu")
        report = evaluate(engine, info, args.folder)
    except (ModelRejected, ProviderError, RunFailed, FolderError, OSError) as exc:
        print(printable(f"resnet-studio evaluate: {exc}"), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _text(report)
    return 1 if report["failed"] else 0
