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
import torch

from resnet_studio.models import build_model

TOLERANCE = 1e-4  # largest logit difference allowed between the old and the new fp32 file


def state_from_onnx(path: Path, variant: str, num_classes: int, in_channels: int) -> dict[str, torch.Tensor]:
    """A state dict whose model computes what the (BN-folded) ONNX file computes."""
    import onnx
    from onnx import numpy_helper

    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
               for i in onnx.load(str(path)).graph.initializer}
    model = build_model(variant, num_classes=num_classes, in_channels=in_channels)
    state = model.state_dict()
    by_value = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        if node.op_type == "Conv" and len(node.input) == 3:
            by_value[node.input[1]] = node.input[2]  # a conv's weight name -> its folded bias
    for name in state:
        if name.endswith("num_batches_tracked"):
            continue
        if name in weights:
            state[name] = weights[name]
            continue
        # A BN after a conv: identity scale, the conv's folded bias as its shift.
        module, field = name.rsplit(".", 1)
        conv = module[:-1] + "0" if module.endswith("downsample.1") else module.replace("bn", "conv")
        bias = weights.get(by_value.get(f"{conv}.weight", ""))
        if bias is None:
            raise ValueError(f"{path}: cannot rebuild {name} from the file's initializers")
        eps = 1e-5
        state[name] = {"weight": torch.ones_like(bias), "bias": bias, "running_mean": torch.zeros_like(bias),
                       "running_var": torch.full_like(bias, 1 - eps)}[field]
    return state


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
