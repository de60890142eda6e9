"""The options of ``resnet-studio train``, and what it chooses when they are left out."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from resnet_studio.core.arguments import Parser, float_in, int_in
from resnet_studio.core.limits import MAX_INPUT_SIDE
from resnet_studio.core.text import printable

from .train_data import DEFAULT_IMAGE_SIZE

DESCRIPTION = "Train a registry variant on Fashion-MNIST or fine-tune on a folder of images."
AUGMENTATIONS = ("crop-flip", "flip", "none")


class TrainParser(Parser):
    """Usage errors in one line; with ``progress_json`` also as the error event the app reads."""

    def __init__(self, *args, progress_json: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.progress_json = progress_json

    def error(self, message: str):
        if self.progress_json:
            print(json.dumps({"stage": "error", "message": printable(f"{message} (see --help)")}), flush=True)
        super().error(message)


def default_variant(args: argparse.Namespace) -> tuple[str, str]:
    """The variant when none is named, and why: the --weights file's own, else resnet18 to fine-tune on
    a folder (the usual first exercise) and resnet20 for Fashion-MNIST (the paper's CIFAR-style net)."""
    if args.weights.endswith(".onnx"):
        from .onnx_weights import read_base

        return read_base(Path(args.weights)).variant, f"the one in {Path(args.weights).name}"
    if args.data:
        return "resnet18", "the default for a folder of your classes"
    return "resnet20", "the default for Fashion-MNIST"


def parser(progress_json: bool = False) -> argparse.ArgumentParser:
    p = TrainParser(prog="resnet-studio train", description=DESCRIPTION, progress_json=progress_json)
    p.add_argument("variant", nargs="?",
                   help="registry variant, e.g. resnet20 or resnet18 (default: the --weights file's, else resnet18 "
                        "with --data and resnet20 without)")
    p.add_argument("--data", help="folder with one subfolder of images per class (fine-tuning); links to folders "
                                  "are not followed")
    p.add_argument("--data-dir", type=Path, help="folder of the Fashion-MNIST IDX files")
    p.add_argument("--subset", type=int_in(1, 10**9), help="use only the first N training and test images (a quick check)")
    p.add_argument("--weights", default="random",
                   help="random, imagenet, imagenet-v1, imagenet-v2, a checkpoint, or an fp32 .onnx file resnet-export "
                        "wrote (its colour, normalisation and input size come with it)")
    p.add_argument("--freeze-backbone", action="store_true", help="train only the final fc layer")
    p.add_argument("--image-size", type=int_in(16, MAX_INPUT_SIDE),
                   help=f"input size for --data (default {DEFAULT_IMAGE_SIZE}, or the --weights file's)")
    p.add_argument("--augment", choices=AUGMENTATIONS, default="crop-flip",
                   help="random crop after padding plus horizontal flips (default), flips only, or none")
    p.add_argument("--val-fraction", type=float_in(0, 1, low_open=True, high_open=True), default=0.2,
                   help="stratified validation share for --data (at least one image a class is always held out)")
    p.add_argument("--epochs", type=int_in(1, 100_000), default=30)
    p.add_argument("--batch-size", type=int_in(1, 65_536),
                   help="images per step and process (default: chosen from the data, at least 8 steps an epoch, "
                        "at most 128); under torchrun the global batch is N x this")
    p.add_argument("--lr", type=float_in(0, 100, low_open=True),
                   help="peak learning rate for one process; N processes train at N x this (linear scaling). "
                        "Default 0.1, or 0.01 when all the layers of pretrained weights are fine-tuned; from "
                        "random weights 0.1 x batch/16 on batches under 8")
    p.add_argument("--weight-decay", type=float_in(0, 1), default=5e-4)
    p.add_argument("--warmup-epochs", type=int_in(0, 100_000), default=1)
    p.add_argument("--label-smoothing", type=float_in(0, 1, high_open=True), default=0.0)
    p.add_argument("--pad", type=int_in(0, MAX_INPUT_SIDE), help="padding for the random crop (default 2 px at 28, size/8 for --data)")
    p.add_argument("--zero-init-residual", action="store_true")
    p.add_argument("--eval-every", type=int_in(1, 100_000), default=1,
                   help="held-out error every N epochs (the history's test_error; default every epoch)")
    p.add_argument("--seed", type=int_in(0, 2**32 - 1), default=0)
    p.add_argument("--threads", type=int_in(1, 4096),
                   help="CPU threads per process (default: the cores divided among this node's processes)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto: CUDA when PyTorch sees a GPU (under torchrun, GPU LOCAL_RANK and NCCL), else the CPU (gloo)")
    p.add_argument("--sync-bn", action="store_true",
                   help="under torchrun: batch-norm statistics over the global batch, not each process's share")
    p.add_argument("--dist-timeout", type=float_in(1, 86_400), default=300,
                   help="seconds a process waits for the others in one step before the run ends (default 300)")
    p.add_argument("--output", default="runs/train", help="folder for checkpoints (last.pt, model.safetensors)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/last.pt")
    p.add_argument("--export", help="write an ONNX file here (plus its int8 twin) when training ends")
    p.add_argument("--progress-json", action="store_true",
                   help="report on stdout as JSON lines (start, step, epoch, then done, cancelled or error); for the app")
    p.add_argument("--quiet", action="store_true")
    return p
