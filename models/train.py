"""``resnet-studio train``: train a registry variant on Fashion-MNIST or fine-tune on a folder of images."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from resnet_studio.core.arguments import Parser, float_in, int_in
from resnet_studio.core.limits import MAX_INPUT_SIDE
from resnet_studio.core.text import printable

from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from resnet_studio.models import distributed
from .checkpoint import atomic_save_torch, load_checkpoint, save_safetensors
from .dataset import Dataset
from .distributed import World, summed
from .registry import build_model, get_variant


@dataclass
class Trained:
    """What a finished run hands on (to ``finished``): the checkpoint and, for a folder, its splits."""

    checkpoint: Path
    export: str | None
    quiet: bool
    held_out: tuple[np.ndarray, np.ndarray] | None = None  # normalised validation images and labels
    training: tuple[np.ndarray, np.ndarray] | None = None
    folder: str | None = None


def fashion_mnist(data_dir: Path | None) -> tuple[Dataset, Dataset]:
    from .fashion_mnist import CLASSES, load_split

    train_x, train_y = load_split("train", data_dir)
    test_x, test_y = load_split("test", data_dir)
    # Normalisation statistics come from the training split itself.
    mean, std = float(train_x.mean() / 255), float(train_x.std() / 255)
    return (Dataset(torch.tensor(train_x).unsqueeze(1), torch.tensor(train_y), CLASSES, [mean], [std], "Fashion-MNIST"),
            Dataset(torch.tensor(test_x).unsqueeze(1), torch.tensor(test_y), CLASSES, [mean], [std], "Fashion-MNIST"))


@dataclass
class Augmentation:
    """One epoch's crop offsets and flips, one per image of the training set.

    Drawn from (seed, epoch) alone, so an image is augmented the same whichever process trains on it:
    a run on N processes sees the batches a single process would, and resumes at any world size.
    """

    offsets: torch.Tensor  # [N, 2] top-left corner of the crop in the padded image
    flips: torch.Tensor    # [N] bool

    @classmethod
    def for_epoch(cls, seed: int, epoch: int, images: int, pad: int) -> Augmentation:
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))
        return cls(torch.randint(0, 2 * pad + 1, (images, 2), generator=generator),
                   torch.rand(images, generator=generator).lt(0.5))


def augment(batch: torch.Tensor, pad: int, offsets: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Pad-and-random-crop plus horizontal flip, per sample."""
    _, _, h, w = batch.shape
    padded = F.pad(batch, (pad, pad, pad, pad))
    out = torch.empty_like(batch)
    for i, ((dy, dx), flip) in enumerate(zip(offsets.tolist(), flips.tolist())):
        crop = padded[i, :, dy:dy + h, dx:dx + w]
        out[i] = crop.flip(-1) if flip else crop
    return out


class Progress:
    """A one-line progress bar on stderr: epoch, step, loss, accuracy and time remaining."""

    def __init__(self, total_steps: int, quiet: bool = False) -> None:
        self.total, self.done = total_steps, 0
        self.quiet, self.live = quiet, sys.stderr.isatty()
        self.start = time.monotonic()

    def update(self, epoch: int, epochs: int, step: int, steps: int, loss: float, acc: float) -> None:
        self.done += 1
        if self.quiet or not self.live or (step % 10 and step != steps):
            return
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        filled = int(24 * step / steps)
        sys.stderr.write(f"\repoch {epoch}/{epochs} [{'#' * filled}{'.' * (24 - filled)}] "
                         f"loss {loss:.3f} acc {acc:6.2%} eta {_clock(eta)}   ")
        sys.stderr.flush()

    def line(self, text: str) -> None:
        if not self.quiet:
            sys.stderr.write(("\r" if self.live else "") + text.ljust(78) + "\n")
            sys.stderr.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def normalise(batch: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return ((batch.float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Dataset, world: World, batch_size: int = 500) -> tuple[float, np.ndarray]:
    """Top-1 accuracy and the confusion matrix (rows: true class); each process scores its share."""
    model.eval()
    mean, std = torch.tensor(data.mean).view(1, -1, 1, 1), torch.tensor(data.std).view(1, -1, 1, 1)
    share = torch.arange(world.rank, len(data), world.size)
    k = len(data.classes)
    confusion = np.zeros((k, k), dtype=np.int64)
    for start in range(0, len(share), batch_size):
        index = share[start:start + batch_size]
        x = normalise(data.images[index], mean, std).to(world.device)
        pred = model(x).argmax(1).cpu().numpy()
        np.add.at(confusion, (data.labels[index].numpy(), pred), 1)
    confusion = summed(world, confusion)
    return float(np.trace(confusion) / confusion.sum()), confusion


def learning_rate(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up to ``peak``, then cosine decay to zero."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


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
        args.quiet = True
    if args.data:
        from .folder import load_folder_split

        train_set, val_set = load_folder_split(Path(args.data), args.image_size, args.val_fraction, args.seed)
        if world.main:
            report_skipped(train_set.skipped)
        input_size = args.image_size
        if args.pad is None:
            args.pad = args.image_size // 8
    else:
        train_set, val_set = fashion_mnist(args.data_dir)
        if args.subset:
            train_set.images, train_set.labels = train_set.images[:args.subset], train_set.labels[:args.subset]
            val_set.images, val_set.labels = val_set.images[:args.subset], val_set.labels[:args.subset]
        input_size = 28
        if args.pad is None:
            args.pad = 2
    variant = get_variant(args.variant)
    in_channels = train_set.images.shape[1]
    model = build_model(variant.name, num_classes=len(train_set.classes), in_channels=in_channels,
                        zero_init_residual=args.zero_init_residual,
                        norm_layer=distributed.norm_layer(world, args.sync_bn))
    if args.weights != "random":
        from .weights import load_weights_into

        load_weights_into(model, args.weights, variant, skip_head=True)
    if args.freeze_backbone:
        for name, parameter in model.named_parameters():
            parameter.requires_grad = name.startswith("fc.")
    model = model.to(world.device, memory_format=torch.channels_last)

    out_dir = Path(args.output)
    if world.main:
        out_dir.mkdir(parents=True, exist_ok=True)
    # Each process takes every N-th image of the epoch's shuffled order (padded to equal shares), so the
    # global batch is N x --batch-size; the linear scaling rule (Goyal et al., 2017) scales the rate to match.
    sampler = DistributedSampler(train_set, num_replicas=world.size, rank=world.rank, shuffle=True, seed=args.seed)
    peak_lr = args.lr * world.size
    steps_per_epoch = math.ceil(len(sampler) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    trainable = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in trainable if p.ndim > 1]
    no_decay = [p for p in trainable if p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": args.weight_decay},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=peak_lr, momentum=0.9, nesterov=True)
    start_epoch = 0
    # One row per epoch: the curves of He et al. (2015) Fig. 6, kept in the checkpoint and the model file.
    history: list[dict] = []
    if args.resume:
        state = load_checkpoint(out_dir / "last.pt")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = int(state["epoch"])
        history = json.loads(state.get("history", "[]"))
        if world.main:
            print(f"resumed from {out_dir / 'last.pt'} after epoch {start_epoch}", file=sys.stderr)
    trained = model
    if world.size > 1:
        trained = DistributedDataParallel(model, device_ids=[world.device] if world.device.type == "cuda" else None)
        if world.main and not args.quiet:
            print(f"training on {world.size} processes ({world.backend}): global batch "
                  f"{args.batch_size * world.size}, peak learning rate {peak_lr:g}"
                  f"{', batch norm synced' if args.sync_bn else ''}", file=sys.stderr)

    meta = {"variant": variant.name, "in_channels": in_channels, "num_classes": len(train_set.classes),
            "labels": train_set.classes, "dataset": train_set.name, "input_size": input_size,
            "mean": train_set.mean, "std": train_set.std, "weights_init": args.weights,
            "command": "resnet-studio train " + " ".join(sys.argv[2:] if sys.argv[1:2] == ["train"] else sys.argv[1:])}
    mean = torch.tensor(train_set.mean).view(1, -1, 1, 1)
    std = torch.tensor(train_set.std).view(1, -1, 1, 1)
    progress = Progress(steps_per_epoch * (args.epochs - start_epoch), args.quiet)
    started = time.monotonic() - (history[-1]["seconds"] if history else 0)
    epoch = start_epoch
    try:
        for epoch in range(start_epoch + 1, args.epochs + 1):
            trained.train()
            if args.freeze_backbone:
                # A frozen backbone keeps its batch-norm statistics too.
                for module in model.modules():
                    if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                        module.eval()
            sampler.set_epoch(epoch)
            order = torch.tensor(list(sampler))
            crops = Augmentation.for_epoch(args.seed, epoch, len(train_set), args.pad)
            seen = correct = 0
            loss_sum = 0.0
            for step in range(steps_per_epoch):
                index = order[step * args.batch_size:(step + 1) * args.batch_size]
                x = normalise(augment(train_set.images[index], args.pad, crops.offsets[index], crops.flips[index]),
                              mean, std).to(world.device)
                y = train_set.labels[index].to(world.device)
                global_step = (epoch - 1) * steps_per_epoch + step
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(global_step, total_steps, steps_per_epoch * args.warmup_epochs, peak_lr)
                logits = trained(x)
                loss = F.cross_entropy(logits, y, label_smoothing=args.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                seen += len(y)
                correct += int((logits.argmax(1) == y).sum())
                loss_sum += float(loss.detach()) * len(y)
                progress.update(epoch, args.epochs, step + 1, steps_per_epoch, loss_sum / seen, correct / seen)
            loss_sum, correct, seen = summed(world, np.array([loss_sum, correct, seen], dtype=np.float64))
            row = {"epoch": epoch, "train_loss": round(loss_sum / seen, 5), "train_error": round(1 - correct / seen, 5),
                   "test_error": None}
            text = f"epoch {epoch}/{args.epochs}: loss {loss_sum / seen:.4f} train acc {correct / seen:.2%}"
            if epoch % args.eval_every == 0 or epoch == args.epochs:
                held_out = evaluate(model, val_set, world)[0]
                row["test_error"] = round(1 - held_out, 5)
                text += f" {'val' if args.data else 'test'} acc {held_out:.2%}"
            row["seconds"] = round(time.monotonic() - started, 1)
            history.append(row)
            progress.line(text + f" ({_clock(row['seconds'])})")
            if world.main:
                atomic_save_torch({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                                   "meta": json.dumps(meta), "history": json.dumps(history)}, out_dir / "last.pt")
    except KeyboardInterrupt:
        if world.main:
            print(f"\ninterrupted in epoch {epoch}; the last good checkpoint is {out_dir / 'last.pt'} "
                  f"(resume with --resume)", file=sys.stderr)
        return 130

    accuracy, confusion = evaluate(model, val_set, world)
    if not world.main:
        return 0
    wall = time.monotonic() - started
    split = "validation" if args.data else "test"
    print(f"{split} accuracy {accuracy:.2%} on {len(val_set)} images after {args.epochs} epochs "
          f"in {_clock(wall)}", file=sys.stderr)
    print_per_class(confusion, val_set.classes)
    meta.update({"metrics": {f"{split}_top1": round(accuracy, 5), "split": split, "images": len(val_set),
                             "epochs": args.epochs, "train_seconds": round(wall), "history": history,
                             "processes": world.size, "global_batch": args.batch_size * world.size}})
    save_safetensors(model.state_dict(), meta, out_dir / "model.safetensors")
    print(f"saved {out_dir / 'model.safetensors'}", file=sys.stderr)
    if finished is not None:
        run = Trained(out_dir / "model.safetensors", args.export, args.quiet)
        if args.data:
            run.held_out = (normalise(val_set.images, mean, std).contiguous().numpy(), val_set.labels.numpy())
            run.training = (normalise(train_set.images, mean, std).contiguous().numpy(), train_set.labels.numpy())
            run.folder = Path(args.data).name
        finished(run)
    return 0


def report_skipped(skipped: list[str]) -> None:
    if skipped:
        print(f"skipped {len(skipped)} unreadable file(s):", file=sys.stderr)
        for reason in skipped[:20]:
            print(f"  {printable(reason)}", file=sys.stderr)


def print_per_class(confusion: np.ndarray, classes: list[str]) -> None:
    classes = [printable(c) for c in classes]  # folder names: no line of the report can be forged
    width = max(len(c) for c in classes)
    print(f"{'class'.ljust(width)}  images  accuracy", file=sys.stderr)
    for name, row, hit in zip(classes, confusion, np.diag(confusion)):
        print(f"{name.ljust(width)}  {row.sum():6d}  {hit / max(1, row.sum()):7.2%}", file=sys.stderr)


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="resnet-studio train", description=__doc__)
    p.add_argument("variant", help="registry variant, e.g. resnet20 or resnet18")
    p.add_argument("--data", help="folder with one subfolder of images per class (fine-tuning)")
    p.add_argument("--data-dir", type=Path, help="folder of the Fashion-MNIST IDX files")
    p.add_argument("--subset", type=int_in(1, 10**9), help="use only the first N training and test images (a quick check)")
    p.add_argument("--weights", default="random", help="random, imagenet, imagenet-v1, imagenet-v2 or a file")
    p.add_argument("--freeze-backbone", action="store_true", help="train only the final fc layer")
    p.add_argument("--image-size", type=int_in(16, MAX_INPUT_SIDE), default=224, help="input size for --data (default 224)")
    p.add_argument("--val-fraction", type=float_in(0, 1, low_open=True, high_open=True), default=0.2, help="stratified validation share for --data")
    p.add_argument("--epochs", type=int_in(1, 100_000), default=30)
    p.add_argument("--batch-size", type=int_in(1, 65_536), default=128,
                   help="images per step and process: under torchrun the global batch is N x this")
    p.add_argument("--lr", type=float_in(0, 100, low_open=True), default=0.1,
                   help="peak learning rate for one process; N processes train at N x this (linear scaling)")
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
    p.add_argument("--quiet", action="store_true")
    return p


def main(argv: list[str] | None = None, finished: Callable[[Trained], None] | None = None,
         errors: tuple[type[Exception], ...] = ()) -> int:
    """``errors``: more exception types (from ``finished``) to report in one line."""
    args = parser().parse_args(argv)
    if args.export and finished is None:
        print("--export: run this as 'resnet-studio train', which exports", file=sys.stderr)
        return 2
    from .checkpoint import CheckpointError
    from .distributed import DistributedError
    from .fashion_mnist import DatasetError
    from .folder import FolderError
    from .registry import UnknownVariantError
    from .weights import WeightsError

    try:
        return train(args, finished)
    except (DatasetError, FolderError, CheckpointError, UnknownVariantError, WeightsError, OSError,
            DistributedError, *errors) as exc:
        print(printable(f"resnet-studio train: {exc}"), file=sys.stderr)  # folder and file names among them
        return 2
    except torch.distributed.DistError as exc:
        # A peer died or stopped answering within --dist-timeout; torchrun ends the rest of the run.
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        print(printable(f"resnet-studio train: another process of this run stopped ({first})"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
