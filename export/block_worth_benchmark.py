"""What each block is worth, measured: the lesion curves of the shipped plain and residual networks (Veit et
al. 2016), Score-CAM's time per image, and the deletion test (Petsiuk et al. 2018) for CAM and Score-CAM.

    python -m resnet_studio.export.block_worth_benchmark [--images 1000] [--resnet50] [--json]

With ``--resnet50`` a random-weights ResNet-50 is exported to a temporary folder to time Score-CAM at
layer4 at 224 px (its weights do not matter for the time). Runs on ONNX Runtime's CPU provider, fp32.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from resnet_studio.core.catalog import shipped_models_dir
from resnet_studio.core.engine import Engine
from resnet_studio.core.lesion_study import sweep
from resnet_studio.core.model_file import read_model
from resnet_studio.core.score_cam import score_cam
from resnet_studio.core.session import SessionPool
from resnet_studio.models.fashion_mnist import load_split

LESIONED = ("resnet20-fashion-mnist-5ep", "plain20-fashion-mnist-5ep", "resnet56-fashion-mnist-5ep",
            "plain56-fashion-mnist-5ep")


def lesion_figures(engine: Engine, count: int) -> dict:
    images, labels = load_split("test")
    out = {}
    for name in LESIONED:
        info = read_model(shipped_models_dir() / f"{name}.onnx")
        inputs = np.stack([engine.model_input(info, Image.fromarray(i, "L")) for i in images[:count]])
        report = sweep(engine, info, inputs, labels[:count])
        kept = [b["accuracy"] for b in report["blocks"] if b["kind"] == "identity" and b["accuracy"] is not None]
        out[name] = {"intact": report["intact_accuracy"], "identity_median": float(np.median(kept)),
                     "identity_worst": float(min(kept)), "blocks": report["blocks"]}
    return out


def write_curves(lesion: dict, images: int, target: Path) -> None:
    """The curves as data, each tied to the bytes of the file it was measured on (its sha256)."""
    from resnet_studio.core.local_file import write_bytes_atomic
    from resnet_studio.core.model_file import read_model

    models = {}
    for name, row in lesion.items():
        info = read_model(shipped_models_dir() / f"{name}.onnx")
        models[name] = {"sha256": info.identity.sha256, "intact": row["intact"],
                        "blocks": [{k: b[k] for k in ("block", "kind", "accuracy")} for b in row["blocks"]]}
    data = {"source": "python -m resnet_studio.export.block_worth_benchmark --write-curves",
            "images": f"the first {images} Fashion-MNIST test images", "models": models}
    write_bytes_atomic(target, (json.dumps(data, indent=1) + "\n").encode())


def deletion(engine: Engine, count: int = 40) -> dict:
    """Mean fall of the true class's probability with the top 20% of pixels by each map zeroed, and at random."""
    info = read_model(shipped_models_dir() / "resnet20-fashion-mnist.onnx")
    images, labels = load_split("test")
    rng = np.random.default_rng(0)
    rankers = {"cam": lambda p: engine.cam(info, p).heat,
               "score-cam layer3.0": lambda p: score_cam(engine, info, p, "layer3.0")[0].heat,
               "random": lambda p: rng.random((28, 28))}
    drops = {name: [] for name in rankers}
    for image, label in zip(images[:count], labels[:count]):
        picture = Image.fromarray(image, "L")
        before = engine.classify_scores(info, engine.model_input(info, picture)[None])[0, label]
        for name, rank in rankers.items():
            damaged = image.copy().ravel()
            damaged[np.argsort(-rank(picture).ravel(), kind="stable")[: image.size // 5]] = 0
            after = engine.classify_scores(info, engine.model_input(
                info, Image.fromarray(damaged.reshape(image.shape), "L"))[None])[0, label]
            drops[name].append(float(before - after))
    return {name: float(np.mean(values)) for name, values in drops.items()} | {"images": count}


def score_cam_time(engine: Engine, path: Path, block: str, size: int, repeats: int) -> float:
    info = read_model(path)
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), dtype=np.uint8))
    picture = picture.convert(info.preprocess.decode_mode)
    score_cam(engine, info, picture, block)  # sessions built
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        score_cam(engine, info, picture, block)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=1000, help="Fashion-MNIST test images for the lesion curves")
    p.add_argument("--resnet50", action="store_true", help="also time Score-CAM at layer4 of ResNet-50")
    p.add_argument("--json", action="store_true")
    p.add_argument("--write-curves", type=Path, metavar="FILE",
                   help="write the lesion curves the app's Why residual? tab draws (resources/lesion-curves.json)")
    args = p.parse_args()
    engine = Engine(SessionPool("cpu", runtime="onnxruntime", exact=True))
    report = {"lesion": lesion_figures(engine, args.images), "deletion": deletion(engine),
              "score_cam_seconds": {"resnet20 layer3.0 (28 px)": score_cam_time(
                  engine, shipped_models_dir() / "resnet20-fashion-mnist.onnx", "layer3.0", 28, 10)}}
    if args.write_curves:
        write_curves(report["lesion"], args.images, args.write_curves)
    if args.resnet50:
        from resnet_studio.export.api import export, prepare

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "resnet50-random.onnx"
            export(prepare("resnet50"), path)
            report["score_cam_seconds"]["resnet50 layer4.0 (224 px, 128 of 2048 channels)"] = score_cam_time(
                engine, path, "layer4.0", 224, 3)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"Lesion, {args.images} Fashion-MNIST test images: intact · identity blocks removed one at a time, "
          f"median and worst")
    for name, row in report["lesion"].items():
        print(f"  {name:<28} {row['intact']:.1%} · {row['identity_median']:.1%} · {row['identity_worst']:.1%}")
    d = report["deletion"]
    print(f"Deletion test, {d['images']} images, 20% of pixels zeroed: the true class's probability falls by "
          f"{d['cam']:.3f} (CAM), {d['score-cam layer3.0']:.3f} (Score-CAM layer3.0), {d['random']:.3f} (random)")
    for case, seconds in report["score_cam_seconds"].items():
        print(f"Score-CAM {case}: {seconds * 1000:.0f} ms per image")


if __name__ == "__main__":
    main()
