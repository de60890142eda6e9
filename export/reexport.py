"""Re-export a file this project made with the current exporter, from the weights inside it.

``python -m resnet_studio.export.reexport OLD.onnx NEW.onnx`` rebuilds the PyTorch model from
the ONNX initializers (the exporter folds each BN into the conv before it: the conv keeps the
folded weight and bias, and the BN becomes the identity), writes it as a ``train`` checkpoint
with the old file's labels, preprocessing and metrics, and exports that as a trained model
would be: fp32 and int8, accuracy re-measured, out-of-distribution parameters re-fitted. The
new fp32 file must give the old file's logits on the whole test split, or nothing is written.
It exists so that shipped models gain outputs a newer exporter adds (F(x) and the shortcut of
each block) without retraining them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from resnet_studio.models.onnx_weights import state_from_onnx

TOLERANCE = 1e-4  # largest logit difference allowed between the old and the new fp32 file


def reexport(old: Path, new: Path) -> None:
    from .onnx_file import _cpu_session, _set_metadata
    from .scoring import fashion_mnist_test
    from .trained import export_trained
    from resnet_studio.core.model_file import read_model
    from resnet_studio.models.checkpoint import save_safetensors

    info = read_model(old)
    state = state_from_onnx(old, info.variant, info.num_classes, info.input.channels)
    trained = info.meta.weights.to_json()
    meta = {"variant": info.variant, "in_channels": info.input.channels, "num_classes": info.num_classes,
            "labels": info.labels, "dataset": info.meta.dataset, "input_size": info.preprocess.crop,
            "mean": list(info.preprocess.mean), "std": list(info.preprocess.std), "weights_init": trained.get("init"),
            "command": trained.get("command"),
            "metrics": {k: v for k, v in info.meta.metrics.values.items() if not k.startswith("onnx_")}}
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / f"{old.stem}.safetensors"
        save_safetensors(state, meta, checkpoint)
        staged = Path(folder) / new.name
        export_trained(checkpoint, staged)
        samples, _, _ = fashion_mnist_test(info.preprocess)
        before, after = (np.concatenate([session.run(["logits"], {"input": samples[i:i + 250]})[0]
                                         for i in range(0, len(samples), 250)])
                         for session in (_cpu_session(old, pruned=True), _cpu_session(staged, pruned=True)))
        worst = float(np.abs(before - after).max())
        if worst > TOLERANCE:
            raise ValueError(f"{old}: the rebuilt model's logits differ by up to {worst:.3g}; nothing written")
        for made in sorted(Path(folder).glob(f"{staged.stem}*.onnx")):
            # The network is the one trained: keep the training checkpoint's provenance, and say how.
            _set_metadata(made, {"weights": {**read_model(made).meta.weights.to_json(), "file": trained.get("file"),
                                             "sha256": trained.get("sha256"),
                                             "rebuilt": f"from the BN-folded weights of {old.name} by "
                                                        f"export.reexport"}})
            made.replace(new.with_name(made.name))
    print(json.dumps({"from": str(old), "to": str(new), "largest_logit_difference": worst}))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m resnet_studio.export.reexport", description=__doc__)
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    args = p.parse_args(argv)
    try:
        reexport(args.old, args.new)
    except ValueError as exc:
        print(f"reexport: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
