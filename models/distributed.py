"""Training on several processes with PyTorch DDP: torchrun's environment, the process group, and
batch norm across processes.

``torchrun`` sets RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE for each process it starts;
without them training runs as one process and nothing here opens a process group.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


class DistributedError(Exception):
    pass


@dataclass(frozen=True)
class World:
    """Where this process stands in the run: its rank among ``size`` and the device it trains on."""

    rank: int
    size: int
    local_rank: int
    local_size: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, logs, the progress bar and exports."""
        return self.rank == 0

    @property
    def backend(self) -> str:
        return "nccl" if self.device.type == "cuda" else "gloo"


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise DistributedError(f"{name}={value[:40]!r} is not a whole number (torchrun sets it)") from None
    if number < 0:
        raise DistributedError(f"{name}={number} is negative")
    return number


def start(device: str, timeout_s: float) -> World:
    """Join the process group torchrun describes (NCCL on CUDA, gloo on the CPU), or stay single.

    ``timeout_s`` bounds every collective: a process whose peer died stops waiting after it.
    """
    size = max(1, _env_int("WORLD_SIZE", 1))
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    local_size = max(1, _env_int("LOCAL_WORLD_SIZE", size))
    if rank >= size:
        raise DistributedError(f"RANK={rank} is not below WORLD_SIZE={size}")
    if device == "cuda" and not torch.cuda.is_available():
        raise DistributedError("--device cuda: this PyTorch sees no usable CUDA device")
    if device == "cuda" or (device == "auto" and torch.cuda.is_available()):
        if local_rank >= torch.cuda.device_count():
            raise DistributedError(f"LOCAL_RANK={local_rank} but this host has {torch.cuda.device_count()} "
                                   f"CUDA device(s): start at most that many processes per node")
        where = torch.device("cuda", local_rank)
        torch.cuda.set_device(where)
    else:
        where = torch.device("cpu")
    world = World(rank, size, local_rank, local_size, where)
    if size > 1 and not dist.is_initialized():
        dist.init_process_group(world.backend, timeout=timedelta(seconds=timeout_s),
                                device_id=where if where.type == "cuda" else None)
    return world


def close() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def summed(world: World, values: np.ndarray) -> np.ndarray:
    """``values`` added up over all processes (counts, loss sums, confusion matrices)."""
    if world.size == 1:
        return values
    tensor = torch.as_tensor(values, dtype=torch.float64, device=world.device)
    dist.all_reduce(tensor)
    return tensor.cpu().numpy().astype(values.dtype)


class CrossProcessBatchNorm2d(nn.BatchNorm2d):
    """Batch norm whose training statistics cover the whole global batch, on the CPU.

    ``nn.SyncBatchNorm`` refuses CPU tensors, so gloo runs use this: one differentiable all-reduce of
    the per-channel sum, sum of squares and count per layer. Evaluation and single-process training are
    plain batch norm, and the state-dict names are ``BatchNorm2d``'s.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce  # differentiable: its backward sums the gradients

        channels = x.shape[1]
        count = x.new_tensor([x.numel() // channels])
        totals = all_reduce(torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count]))
        n = totals[-1]
        mean = totals[:channels] / n
        var = (totals[channels:2 * channels] / n - mean * mean).clamp_min(0)
        with torch.no_grad():
            self.num_batches_tracked += 1
            momentum = self.momentum if self.momentum is not None else 1 / float(self.num_batches_tracked)
            self.running_mean.lerp_(mean.detach(), momentum)
            self.running_var.lerp_(var.detach() * n / (n - 1).clamp_min(1), momentum)
        scale = torch.rsqrt(var + self.eps)
        if self.affine:
            shift = self.bias - mean * scale * self.weight
            scale = scale * self.weight
        else:
            shift = -mean * scale
        return x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)


def norm_layer(world: World, sync: bool) -> type[nn.Module] | None:
    """The batch norm to build the model with: synced over processes with ``--sync-bn``."""
    if not sync or world.size == 1:
        return None
    return nn.SyncBatchNorm if world.device.type == "cuda" else CrossProcessBatchNorm2d
