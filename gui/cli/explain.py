"""``resnet-studio explain IMAGE... --model M --layer BLOCK --method cam|score-cam``: a map of where the
class is, per image: DIR/<stem>.npy (float32, the image file's height × width) and DIR/<stem>.png (an overlay)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np

from resnet_studio.core.arguments import Parser, int_in
from resnet_studio.core.limits import MAX_CLASSES
from resnet_studio.core.openvino_runtime import RUNTIMES
from resnet_studio.core.text import printable


def _cam_block(info) -> str | None:
    return next((t.block for t in info.taps.taps if t.tensor == info.taps.cam_layer), None)


def _map(engine, info, image, method: str, layer: str | None, class_index: int | None):
    """The map (its heat in [0, 1] at the image's size, and the raw value 1 stands for), and a note."""
    from resnet_studio.core.score_cam import score_cam

    if method == "cam":
        return engine.cam(info, image, class_index), ""
    return score_cam(engine, info, image, layer or _cam_block(info), class_index)


def main(argv: list[str]) -> int:
    p = Parser(prog="resnet-studio explain", description="Where in each image the class is: CAM (Zhou et al. 2016) "
               "at the last block, or Score-CAM (Wang et al. 2020) at any block, with forward passes only.")
    p.add_argument("images", nargs="+", help="image files or folders")
    p.add_argument("--model", help="a model name from 'resnet-studio models', or an .onnx path")
    p.add_argument("--layer", metavar="BLOCK", help="the block (layer3.1, say; default: the last)")
    p.add_argument("--method", choices=["cam", "score-cam"], default="cam")
    p.add_argument("--class", dest="class_index", type=int_in(0, MAX_CLASSES - 1), metavar="K",
                   help="the class to explain (default: each image's top class)")
    p.add_argument("--output", required=True, metavar="DIR", help="folder for <image stem>.npy and .png")
    p.add_argument("--models-dir")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--runtime", default="auto", choices=RUNTIMES)
    args = p.parse_args(argv)
    from PIL import Image

    from resnet_studio.core.catalog import Catalog
    from resnet_studio.core.engine import Engine, percent
    from resnet_studio.core.intake import ImageRejected
    from resnet_studio.core.local_file import write_bytes_atomic
    from resnet_studio.core.model_file import ModelRejected
    from resnet_studio.core.session import ProviderError, RunFailed, SessionPool
    from resnet_studio.core.walk import expand
    from resnet_studio.gui.viewmodel import lineup
    from resnet_studio.gui.viewmodel.colormap import overlay

    try:
        engine = Engine(SessionPool(args.device, runtime=args.runtime))
        info = lineup.resolve(Catalog(args.models_dir), args.model, "cpu", "fp32")
        if args.layer and not info.taps.has(args.layer, "output"):
            raise ValueError(f"{info.name} has no block {args.layer!r}: one of {', '.join(info.taps.blocks()[:6])} …")
        if args.method == "cam" and args.layer not in (None, _cam_block(info)):
            raise ValueError(f"CAM reads the last block ({_cam_block(info)}) only; for {args.layer} use "
                             f"--method score-cam")
        if args.class_index is not None and args.class_index >= info.num_classes:
            raise ValueError(f"--class {args.class_index}: {info.name} has {info.num_classes} classes")
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
    except (ModelRejected, ProviderError, ValueError, OSError) as exc:
        print(printable(f"resnet-studio explain: {exc}"), file=sys.stderr)
        return 2
    failed = total = 0
    for path in expand(args.images):
        total += 1
        try:
            picture = engine.decode(info, path)
            found, note = _map(engine, info, picture, args.method, args.layer, args.class_index)
            raw = (found.heat * found.peak).astype(np.float32)  # the map's own values, at the file's size
            buffer = io.BytesIO()
            np.save(buffer, raw, allow_pickle=False)
            write_bytes_atomic(out / f"{Path(path).stem}.npy", buffer.getvalue())
            shown_rgb = np.asarray(Image.open(path).convert("RGB")) if picture.mode != "RGB" else np.asarray(picture)
            png = io.BytesIO()
            Image.fromarray(overlay(shown_rgb, found.heat, 0.55)).save(png, "PNG")
            write_bytes_atomic(out / f"{Path(path).stem}.png", png.getvalue())
            label = info.labels[found.class_index]
            print(printable(f"{path}: {label} ({percent(found.probability)}) → {out / Path(path).stem}.npy"
                            + (f"; {note}" if note else "")))
        except (ImageRejected, RunFailed, ProviderError, KeyError, ValueError, OSError) as exc:
            failed += 1
            print(printable(f"{path}: error: {exc}"), file=sys.stderr)
    return 1 if failed or total == 0 else 0
