"""``resnet-studio train``: train a registry variant on Fashion-MNIST or fine-tune on a folder of images."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from resnet_studio.core.text import first_line, printable

from . import distributed
from .checkpoint import atomic_save_torch, save_safetensors, training_state
from .dataset import Dataset
from .distributed import World, summed
from .registry import build_model, get_variant
from .train_data import load_data
from .train_options import default_variant, parser
from .training import (Augmentation, Reporter, Step, augment, auto_batch_size, clock, default_learning_rate, evaluate,
                       layer_responses, learning_rate, normalise)

RESPONSE_IMAGES = 32  # the fixed held-out batch whose layer responses are recorded every epoch


@dataclass
class Trained:
    """What a finished run hands on (to ``finished``): the checkpoint and, for a folder, its splits."""

    checkpoint: Path
    export: str | None
    quiet: bool
    held_out: tuple[np.ndarray, np.ndarray] | None = None  # normalised validation images and labels
    training: tuple[np.ndarray, np.ndarray] | None = None
    folder: str | None = None


@dataclass
class Run:
    """Everything one training run works with, built by ``prepare``."""

    args: argparse.Namespace
    world: World
    train_set: Dataset
    val_set: Dataset
    model: torch.nn.Module
    trained: torch.nn.Module  # the model, wrapped in DDP under torchrun
    optimizer: torch.optim.Optimizer
    sampler: DistributedSampler
    batch_size: int
    peak_lr: float
    out_dir: Path
    meta: dict
    reporter: Reporter | None = None
    history: list[dict] = field(default_factory=list)  # one row per epoch: He et al. (2015) Fig. 6's curves
    start_epoch: int = 0

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.sampler) / self.batch_size)

    @property
    def mean_std(self) -> tuple[torch.Tensor, torch.Tensor]:
        return (torch.tensor(self.train_set.mean).view(1, -1, 1, 1), torch.tensor(self.train_set.std).view(1, -1, 1, 1))


def prepare(args: argparse.Namespace, world: World) -> Run:
    train_set, val_set, input_size = load_data(args, world)
    variant = get_variant(args.variant)
    in_channels = train_set.images.shape[1]
    model = build_model(variant.name, num_classes=len(train_set.classes), in_channels=in_channels,
                        zero_init_residual=args.zero_init_residual,
                        norm_layer=distributed.norm_layer(world, args.sync_bn))
    if args.weights.endswith(".onnx"):
        from .onnx_weights import load_onnx_base

        mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in (train_set.mean, train_set.std))
        load_onnx_base(model, Path(args.weights), variant.name, normalise(train_set.images[:256], mean, std))
    elif args.weights != "random":
        from .weights import load_weights_into

        load_weights_into(model, args.weights, variant, skip_head=True)
    if args.freeze_backbone:
        for name, parameter in model.named_parameters():
            parameter.requires_grad = name.startswith("fc.")
    model = model.to(world.device, memory_format=torch.channels_last)
    # Each process takes every N-th image of the epoch's shuffled order (padded to equal shares), so the
    # global batch is N x the batch; the linear scaling rule (Goyal et al., 2017) scales the rate to match.
    sampler = DistributedSampler(train_set, num_replicas=world.size, rank=world.rank, shuffle=True, seed=args.seed)
    batch_size = args.batch_size or auto_batch_size(len(train_set), world.size)
    args.lr_chosen = args.lr is None
    if args.lr is None:
        args.lr = default_learning_rate(args.weights, args.freeze_backbone, batch_size)
    peak_lr = args.lr * world.size
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD([{"params": [p for p in trainable if p.ndim > 1], "weight_decay": args.weight_decay},
                                 {"params": [p for p in trainable if p.ndim <= 1], "weight_decay": 0.0}],
                                lr=peak_lr, momentum=0.9, nesterov=True)
    trained = model
    if world.size > 1:
        trained = DistributedDataParallel(model, device_ids=[world.device] if world.device.type == "cuda" else None)
    meta = {"variant": variant.name, "in_channels": in_channels, "num_classes": len(train_set.classes),
            "labels": train_set.classes, "dataset": train_set.name, "input_size": input_size,
            "mean": train_set.mean, "std": train_set.std, "weights_init": args.weights,
            "command": "resnet-studio train " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["train"] else sys.argv[1:])}
    out_dir = Path(args.output)
    if world.main:
        out_dir.mkdir(parents=True, exist_ok=True)
    return Run(args, world, train_set, val_set, model, trained, optimizer, sampler, batch_size, peak_lr, out_dir, meta)


def announce(run: Run) -> None:
    """Say once what the run will do, including what was chosen for the user."""
    args, world = run.args, run.world
    chosen = "" if args.batch_size else f" (chosen for {len(run.train_set)} training images: {run.steps_per_epoch} steps an epoch)"
    settings = {"variant": args.variant, "variant_chosen": args.variant_reason is not None, "classes": run.train_set.classes, "train_images": len(run.train_set),
                "held_out_images": len(run.val_set), "batch_size": run.batch_size, "batch_chosen": not args.batch_size,
                "epochs": args.epochs, "steps_per_epoch": run.steps_per_epoch, "lr": args.lr, "lr_chosen": args.lr_chosen,
                "image_size": run.meta["input_size"], "augment": args.augment, "weights": args.weights, "resumed_from_epoch": run.start_epoch,
                "skipped": run.train_set.skipped[:20]}
    run.reporter.event("start", **settings)
    if args.progress_json or not world.main:
        return
    if run.start_epoch:
        print(f"resumed from {run.out_dir / 'last.pt'} after epoch {run.start_epoch}", file=sys.stderr)
    if args.quiet:
        return
    if args.variant_reason:
        print(f"variant {args.variant} (none named: {args.variant_reason})", file=sys.stderr)
    print(f"batch {run.batch_size} per process{chosen}; peak learning rate {args.lr:g}"
          f"{' (chosen for these weights)' if args.lr_chosen else ''}", file=sys.stderr)
    if world.size > 1:
        print(f"training on {world.size} processes ({world.backend}): global batch {run.batch_size * world.size}, "
              f"peak learning rate {run.peak_lr:g}{', batch norm synced' if args.sync_bn else ''}", file=sys.stderr)


def one_epoch(run: Run, epoch: int) -> Step:
    args, model = run.args, run.model
    run.trained.train()
    if args.freeze_backbone:
        for module in model.modules():  # a frozen backbone keeps its batch-norm statistics too
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()
    run.sampler.set_epoch(epoch)
    order = torch.tensor(list(run.sampler))
    pad = args.pad if args.augment == "crop-flip" else 0
    crops = Augmentation.for_epoch(args.seed, epoch, len(run.train_set), pad, flips=args.augment != "none")
    mean, std = run.mean_std
    steps, total = run.steps_per_epoch, run.steps_per_epoch * args.epochs
    done = Step()
    for step in range(steps):
        index = order[step * run.batch_size:(step + 1) * run.batch_size]
        x = normalise(augment(run.train_set.images[index], pad, crops.offsets[index], crops.flips[index]),
                      mean, std).to(run.world.device)
        y = run.train_set.labels[index].to(run.world.device)
        for group in run.optimizer.param_groups:
            group["lr"] = learning_rate((epoch - 1) * steps + step, total, steps * args.warmup_epochs, run.peak_lr)
        logits = run.trained(x)
        loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        done.seen += len(y)
        done.correct += int((logits.argmax(1) == y).sum())
        done.loss_sum += float(loss.detach()) * len(y)
        run.reporter.step(epoch, args.epochs, step + 1, steps, done.loss_sum / done.seen, done.correct / done.seen)
    return done


def finish_epoch(run: Run, epoch: int, done: Step, started: float, probe: torch.Tensor) -> None:
    """Score the epoch, save last.pt, then record its row (with the layer responses on the fixed batch)."""
    args, world = run.args, run.world
    loss_sum, correct, seen = summed(world, np.array([done.loss_sum, done.correct, done.seen], dtype=np.float64))
    row = {"epoch": epoch, "train_loss": round(loss_sum / seen, 5), "train_error": round(1 - correct / seen, 5),
           "test_error": None}
    text = f"epoch {epoch}/{args.epochs}: loss {loss_sum / seen:.4f} train acc {correct / seen:.2%}"
    if epoch % args.eval_every == 0 or epoch == args.epochs:
        held_out = evaluate(run.model, run.val_set, world)[0]
        row["test_error"] = round(1 - held_out, 5)
        text += f" {'val' if args.data else 'test'} acc {held_out:.2%}"
    row["responses"] = layer_responses(run.model, probe)
    row["seconds"] = round(time.monotonic() - started, 1)
    # Saved before the epoch is told or counted: an interrupt in the save leaves the previous last.pt, and
    # every epoch reported (or named by a cancel) has its checkpoint on disk.
    if world.main:
        atomic_save_torch({"model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(), "epoch": epoch,
                           "meta": json.dumps(run.meta), "history": json.dumps(run.history + [row])},
                          run.out_dir / "last.pt")
    run.history.append(row)
    run.reporter.line(text + f" ({clock(row['seconds'])})")
    run.reporter.event("epoch", epoch=epoch, epochs=args.epochs, train_loss=row["train_loss"],
                       train_acc=round(correct / seen, 5),
                       val_acc=None if row["test_error"] is None else round(1 - row["test_error"], 5),
                       held_out_images=len(run.val_set), responses=row["responses"], seconds=row["seconds"],
                       eta_seconds=round(run.reporter.eta(), 1))


def train(args: argparse.Namespace, finished: Callable[[Trained], None] | None = None) -> int:
    """Train as ``args`` say; ``finished`` receives the result (the command line exports it there).

    Under torchrun every process runs this; only rank 0 writes or prints.
    """
    world = distributed.start(args.device, args.dist_timeout)
    try:
        return _train(args, world, finished)
    finally:
        distributed.close()


def _train(args: argparse.Namespace, world: World, finished: Callable[[Trained], None] | None) -> int:
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // world.local_size))
    if not world.main:
        args.quiet, args.progress_json = True, False
    run = prepare(args, world)
    if args.resume:
        run.start_epoch, run.history = training_state(run.out_dir / "last.pt", run.model, run.optimizer,
                                                      run.train_set.classes, args.epochs)
    run.reporter = Reporter(run.steps_per_epoch * (args.epochs - run.start_epoch), args.quiet, args.progress_json)
    announce(run)
    mean, std = run.mean_std
    probe = normalise(run.val_set.images[:RESPONSE_IMAGES], mean, std).to(world.device)
    started = time.monotonic() - (run.history[-1]["seconds"] if run.history else 0)
    epoch = run.start_epoch
    try:
        for epoch in range(run.start_epoch + 1, args.epochs + 1):
            finish_epoch(run, epoch, one_epoch(run, epoch), started, probe)
    except KeyboardInterrupt:
        if world.main:
            message = (f"interrupted in epoch {epoch}; the last good checkpoint is {run.out_dir / 'last.pt'} "
                       f"(resume with --resume)")
            run.reporter.event("cancelled", message=message, epoch=run.history[-1]["epoch"] if run.history else 0)
            print(f"\n{message}", file=sys.stderr)
        return 130
    return conclude(run, time.monotonic() - started, finished)


def conclude(run: Run, wall: float, finished: Callable[[Trained], None] | None) -> int:
    """Score the held-out split, save model.safetensors, and hand the run on."""
    args, world = run.args, run.world
    accuracy, confusion = evaluate(run.model, run.val_set, world)
    if not world.main:
        return 0
    split = "validation" if args.data else "test"
    if not args.progress_json:
        from resnet_studio.core.evaluation import accuracy_text

        # Below 20 held-out images the figure comes with its Wilson interval.
        print(f"{accuracy_text(int(np.trace(confusion)), len(run.val_set), split + ' accuracy')} after {args.epochs} "
              f"epochs in {clock(wall)}", file=sys.stderr)
        print_per_class(confusion, run.val_set.classes)
    run.meta.update({"metrics": {f"{split}_top1": round(accuracy, 5), "split": split, "images": len(run.val_set),
                                 "epochs": args.epochs, "train_seconds": round(wall), "history": run.history,
                                 "processes": world.size, "global_batch": run.batch_size * world.size}})
    save_safetensors(run.model.state_dict(), run.meta, run.out_dir / "model.safetensors")
    if not args.progress_json:
        print(f"saved {run.out_dir / 'model.safetensors'}", file=sys.stderr)
    if finished is not None:
        if args.export:
            run.reporter.event("export", path=args.export)
        trained = Trained(run.out_dir / "model.safetensors", args.export, args.quiet or args.progress_json)
        if args.data:
            mean, std = run.mean_std
            trained.held_out = (normalise(run.val_set.images, mean, std).contiguous().numpy(), run.val_set.labels.numpy())
            trained.training = (normalise(run.train_set.images, mean, std).contiguous().numpy(),
                                run.train_set.labels.numpy())
            trained.folder = Path(args.data).name
        finished(trained)
    run.reporter.event("done", report={"accuracy": accuracy, "split": split, "images": len(run.val_set),
                                       "labels": run.val_set.classes, "confusion": confusion.tolist(),
                                       "checkpoint": str(run.out_dir / "model.safetensors"), "export": args.export,
                                       "seconds": round(wall, 1),
                                       # The held-out images by file, so the app can show each cell's images.
                                       "held_out": [[path, int(label)] for path, label in
                                                    zip(run.val_set.sources, run.val_set.labels.tolist())]})
    return 0


def print_per_class(confusion: np.ndarray, classes: list[str]) -> None:
    classes = [printable(c) for c in classes]  # folder names: no line of the report can be forged
    width = max(len(c) for c in classes)
    print(f"{'class'.ljust(width)}  images  accuracy", file=sys.stderr)
    for name, row, hit in zip(classes, confusion, np.diag(confusion)):
        print(f"{name.ljust(width)}  {row.sum():6d}  {hit / max(1, row.sum()):7.2%}", file=sys.stderr)


def main(argv: list[str] | None = None, finished: Callable[[Trained], None] | None = None,
         errors: tuple[type[Exception], ...] = ()) -> int:
    """``errors``: more exception types (from ``finished``) to report in one line."""
    words = sys.argv[1:] if argv is None else argv
    args = parser(progress_json="--progress-json" in words).parse_args(words)
    if args.progress_json:
        # The app cancels with SIGINT. A child of an app started with `&` from a script inherits SIGINT
        # ignored, and Python then installs no handler: Cancel did nothing until the app's kill.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.export and finished is None:
        print("--export: run this as 'resnet-studio train', which exports", file=sys.stderr)
        return 2
    from .checkpoint import CheckpointError
    from .distributed import DistributedError
    from .fashion_mnist import DatasetError
    from .folder import FolderError
    from .registry import UnknownVariantError
    from .weights import WeightsError

    def fail(message: str, code: int) -> int:
        if args.progress_json:
            print(json.dumps({"stage": "error", "message": printable(message)}), flush=True)
        print(printable(f"resnet-studio train: {message}"), file=sys.stderr)  # folder and file names among them
        return code

    try:
        args.variant_reason = None
        if args.variant is None:
            args.variant, args.variant_reason = default_variant(args)
        return train(args, finished)
    except (DatasetError, FolderError, CheckpointError, UnknownVariantError, WeightsError, OSError,
            DistributedError, *errors) as exc:
        return fail(str(exc), 2)
    except torch.distributed.DistError as exc:
        # A peer died or stopped answering within --dist-timeout; torchrun ends the rest of the run.
        first = first_line(exc, 200)
        return fail(f"another process of this run stopped ({first})", 1)


if __name__ == "__main__":
    sys.exit(main())
