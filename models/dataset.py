"""The in-memory image set that training reads, from Fashion-MNIST or from a folder."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Dataset:
    """Images kept in memory as uint8 [N, C, H, W] with their labels, plus how to normalise them."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    mean: list[float]
    std: list[float]
    name: str
    skipped: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # each image's file, for a folder's images

    def __len__(self) -> int:
        return len(self.labels)
