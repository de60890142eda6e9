"""Fashion-MNIST from the IDX files of Debian's ``dataset-fashion-mnist`` package."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SPLITS = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60_000),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10_000)}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
# Pixel mean and standard deviation of the 60,000 training images, scaled to [0, 1].
MEAN, STD = 0.2860406, 0.3530242
INSTALL_HINT = "install it with 'apt-get install dataset-fashion-mnist' or pass --data-dir"


class DatasetError(Exception):
    pass


MAX_IDX_BYTES = 64 * 1024**2  # the 60,000 training images take 47 MB


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Read one gzipped (or plain) IDX file of unsigned bytes: the header, then exactly what it promises.

    A file that inflates to gigabytes is refused after reading one byte past its promise.
    """
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            head = f.read(header)
            if len(head) < header or int.from_bytes(head[:4], "big") != magic:
                raise DatasetError(f"{path} is not an IDX file with magic {magic}; {INSTALL_HINT}")
            shape = tuple(int.from_bytes(head[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
            expected = int(np.prod(shape))
            if expected > MAX_IDX_BYTES:
                raise DatasetError(f"{path} promises {expected:,} bytes of data for shape {shape}, over "
                                   f"{MAX_IDX_BYTES // 2**20} MiB; {INSTALL_HINT}")
            raw = f.read(expected + 1)
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing; {INSTALL_HINT}") from None
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path} is damaged ({exc}); {INSTALL_HINT}") from None
    if len(raw) != expected:
        found = f"more than {expected:,}" if len(raw) > expected else f"{len(raw):,}"
        raise DatasetError(f"{path} holds {found} bytes of data for shape {shape}; {INSTALL_HINT}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)


def load_split(split: str, data_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 [N, 28, 28], labels int64 [N]) for "train" or "test"."""
    images_name, labels_name, count = SPLITS[split]
    root = Path(data_dir) if data_dir else DEFAULT_DIR
    images = read_idx(root / images_name, IMAGE_MAGIC)
    labels = read_idx(root / labels_name, LABEL_MAGIC)
    if images.shape != (count, 28, 28) or labels.shape != (count,):
        raise DatasetError(f"{split} split has images {images.shape} and labels {labels.shape}, "
                           f"expected ({count}, 28, 28) and ({count},); {INSTALL_HINT}")
    if labels.max() >= len(CLASSES):
        raise DatasetError(f"{root / labels_name} has label {labels.max()}, beyond the 10 classes")
    return images, labels.astype(np.int64)
