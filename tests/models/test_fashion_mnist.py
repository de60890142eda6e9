"""Fashion-MNIST from Debian's IDX files: read exactly as far as the header promises."""

import gzip
import struct

import numpy as np
import pytest
from resnet_studio.models.fashion_mnist import (
    DEFAULT_DIR,
    DatasetError,
    load_split,
    read_idx,
)


def _idx(path, magic, shape, data: bytes | None = None, compress=True):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in shape)
    body = data if data is not None else bytes(int(np.prod(shape)))
    (gzip.open if compress else open)(path, "wb").write(header + body)
    return path


def test_reads_a_valid_idx_file(tmp_path):
    pixels = np.arange(2 * 3 * 4, dtype=np.uint8)
    array = read_idx(_idx(tmp_path / "x.gz", 2051, (2, 3, 4), pixels.tobytes()), 2051)
    assert array.shape == (2, 3, 4) and array[1, 2, 3] == 23
    plain = read_idx(_idx(tmp_path / "y", 2049, (5,), compress=False), 2049)
    assert plain.shape == (5,)


@pytest.mark.parametrize("case, message", [
    ("wrong magic", "not an IDX file with magic 2051"),
    ("short data", "holds 10 bytes of data for shape (2, 3, 4)"),
    ("not gzip", "is damaged"),
    ("missing", "is missing"),
])
def test_damaged_files_get_one_line_reasons(tmp_path, case, message):
    path = tmp_path / "images.gz"
    if case == "wrong magic":
        _idx(path, 2049, (2, 3, 4))
    elif case == "short data":
        _idx(path, 2051, (2, 3, 4), bytes(10))
    elif case == "not gzip":
        path.write_bytes(b"this is not gzip at all")
    with pytest.raises(DatasetError) as err:
        read_idx(path, 2051)
    assert message in str(err.value)
    assert "apt-get install dataset-fashion-mnist" in str(err.value)
    assert "\n" not in str(err.value)


def test_wrong_counts_are_refused(tmp_path):
    _idx(tmp_path / "t10k-images-idx3-ubyte.gz", 2051, (10, 28, 28))
    _idx(tmp_path / "t10k-labels-idx1-ubyte.gz", 2049, (10,))
    with pytest.raises(DatasetError, match=r"expected \(10000, 28, 28\)"):
        load_split("test", tmp_path)


@pytest.mark.skipif(not DEFAULT_DIR.exists(), reason="dataset-fashion-mnist is not installed")
def test_debian_package_loads():
    images, labels = load_split("test")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1000] * 10
