"""The parts of a training run: augmentation, the learning-rate schedule, one epoch, held-out scoring,
the layer responses of each block, and the progress a run reports (a terminal bar, or JSON lines for
the app)."""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .dataset import Dataset
from .distributed import World, summed


@dataclass
class Augmentation:
    """One epoch's crop offsets and flips, one per image of the training set.

    Drawn from (seed, epoch) alone, so an image is augmented the same whichever process trains on it:
    a run on N processes sees the batches a single process would, and resumes at any world size.
    """

    offsets: torch.Tensor  # [N, 2] top-left corner of the crop in the padded image
    flips: torch.Tensor    # [N] bool

    @classmethod
    def for_epoch(cls, seed: int, epoch: int, images: int, pad: int, flips: bool = True) -> Augmentation:
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))
        offsets = torch.randint(0, 2 * pad + 1, (images, 2), generator=generator)
        flipped = torch.rand(images, generator=generator).lt(0.5)
        return cls(offsets, flipped if flips else torch.zeros_like(flipped))


def augment(batch: torch.Tensor, pad: int, offsets: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Pad-and-random-crop plus horizontal flip, per sample."""
    _, _, h, w = batch.shape
    padded = F.pad(batch, (pad, pad, pad, pad))
    out = torch.empty_like(batch)
    for i, ((dy, dx), flip) in enumerate(zip(offsets.tolist(), flips.tolist())):
        crop = padded[i, :, dy:dy + h, dx:dx + w]
        out[i] = crop.flip(-1) if flip else crop
    return out


def normalise(batch: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return ((batch.float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)


def learning_rate(step: int, total: int, warmup: int, peak: float) -> float:
    """Linear warm-up to ``peak``, then cosine decay to zero."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return 0.5 * peak * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def auto_batch_size(train_images: int, world_size: int) -> int:
    """A batch that gives every epoch at least 8 steps on small data (a power of two, 4 to 128 per process).

    With 40 images a class, a batch of 128 made one step per epoch, and 6 epochs of a random-weights
    resnet18 stayed at chance; batches of 16 reached 100% on the same data.
    """
    per_process = max(1, train_images // (8 * world_size))
    return max(4, min(128, 2 ** int(math.log2(per_process))))


def default_learning_rate(weights: str, frozen: bool, batch_size: int) -> float:
    """0.1 for a network trained from scratch or a new head alone; 0.01 when every layer of pretrained weights
    is fine-tuned, which a rate of 0.1 would mostly overwrite (the usual tenth of the from-scratch rate).

    From scratch on batches under 8 it is 0.1 x batch/16 (0.025 at 4). A random resnet18 at 64 px on 10
    textures a class (batches of 4, two seeds, 6 epochs) reached an epoch's mean loss of 19-22 at 0.1 and
    7-9 at 0.025, and 100% once against 75% once; at 40 a class (batches of 8) 0.1 reached 100% an epoch
    sooner than 0.05, so it stays.
    """
    if weights != "random" and not frozen:
        return 0.01
    return 0.1 * batch_size / 16 if weights == "random" and batch_size < 8 else 0.1


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


@torch.no_grad()
def layer_responses(model: torch.nn.Module, x: torch.Tensor) -> list[float]:
    """The standard deviation of each block's F(x) on ``x`` (He et al. 2015, Fig. 7), in eval mode."""
    model.eval()
    h = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    out = []
    for stage in model.stages():
        for block in stage:
            out.append(round(float(block.branch(h).std()), 5))
            h = block(h)
    return out


@dataclass
class Step:
    """One epoch's figures before they are summed over processes."""

    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0


class Reporter:
    """What a run tells its user: a one-line bar on a terminal, or (``json``) one JSON object per line on
    stdout: ``start``, ``step`` (at most twice a second), ``epoch``, then ``done`` or ``error``."""

    def __init__(self, total_steps: int, quiet: bool = False, as_json: bool = False) -> None:
        self.total, self.done = total_steps, 0
        self.quiet, self.json = quiet, as_json
        self.live = sys.stderr.isatty() and not as_json
        self.start = time.monotonic()
        self._last_step = 0.0

    def eta(self) -> float:
        elapsed = time.monotonic() - self.start
        return elapsed / max(1, self.done) * (self.total - self.done)

    def event(self, stage: str, **fields) -> None:
        if self.json:
            print(json.dumps({"stage": stage, **fields}), flush=True)

    def step(self, epoch: int, epochs: int, step: int, steps: int, loss: float, acc: float) -> None:
        self.done += 1
        now = time.monotonic()
        if self.json and (now - self._last_step >= 0.5 or step == steps):
            self._last_step = now
            self.event("step", epoch=epoch, epochs=epochs, step=step, steps=steps, train_loss=round(loss, 5),
                       train_acc=round(acc, 5), eta_seconds=round(self.eta(), 1))
        if self.quiet or not self.live or (step % 10 and step != steps):
            return
        filled = int(24 * step / steps)
        sys.stderr.write(f"\repoch {epoch}/{epochs} [{'#' * filled}{'.' * (24 - filled)}] "
                         f"loss {loss:.3f} acc {acc:6.2%} eta {clock(self.eta())}   ")
        sys.stderr.flush()

    def line(self, text: str) -> None:
        if not self.quiet and not self.json:
            sys.stderr.write(("\r" if self.live else "") + text.ljust(78) + "\n")
            sys.stderr.flush()


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
