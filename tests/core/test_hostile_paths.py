"""Paths that are not what they seem: code planted in the working folder, device nodes as outputs,
model files swapped after their check, and URLs that name other machines or nothing at all."""

import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from onnx_builders import endless_loop_classifier, save
from resnet_studio.core import children
from resnet_studio.core.local_file import NotARegularFile, Rejected, atomic_path, path_from_uri
from resnet_studio.core.model_file import ModelRejected, read_model
from resnet_studio.core.session import ProviderError, SessionPool
from runners import DEFAULT, plant

def device_node(folder, name):
    """A character device like /dev/null where this user may make one (root), else a FIFO."""
    path = folder / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError):
        os.mkfifo(path)
    return path


def is_special(path) -> bool:
    mode = os.lstat(path).st_mode
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def test_children_never_import_from_the_folder_they_were_started_from(tmp_path, monkeypatch):
    marker = plant(tmp_path)
    monkeypatch.chdir(tmp_path)
    # The planted module works: a plain `python -m` from this folder runs it.
    subprocess.run([sys.executable, "-m", "resnet_studio.export.ood_fit", "--help"], capture_output=True,
                   timeout=120)
    assert marker.exists()
    marker.unlink()
    for name in ("ood_fit", "studio"):
        done = children.run(name, "--help", timeout=120)
        assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert os.getcwd() == str(tmp_path)  # the children's own folder is private, not ours


def test_the_atomic_writer_never_replaces_a_device_fifo_or_folder(tmp_path):
    for target in (device_node(tmp_path, "dev"), tmp_path / "sub"):
        if target.name == "sub":
            target.mkdir()
        with pytest.raises(NotARegularFile, match="not a regular file"):
            with atomic_path(target) as temporary:
                temporary.write_text("x")
    assert is_special(tmp_path / "dev") and (tmp_path / "sub").is_dir()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left
    # A link to a regular file is written through: the link stays, the file it names is replaced.
    (tmp_path / "real.txt").write_text("old")
    os.symlink(tmp_path / "real.txt", tmp_path / "link.txt")
    with atomic_path(tmp_path / "link.txt") as temporary:
        temporary.write_text("new")
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_text() == "new"


def test_a_model_swapped_after_its_check_never_runs(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(DEFAULT.read_bytes())
    info = read_model(path)
    pool = SessionPool("cpu")
    pool.get(info)  # built from the checked bytes
    save(endless_loop_classifier(), path)  # a file the reader itself refuses
    with pytest.raises(ModelRejected, match="holds control flow"):
        read_model(path)
    # The session built before keeps running the checked bytes; a new one is refused.
    assert pool.run(info, np.zeros((1, 1, 28, 28), np.float32))[1][0].shape == (1, 10)
    with pytest.raises(ProviderError, match="changed on disk since it was checked"):
        pool.get(info, full=True)
    # Same size and modification time, other bytes: the hash tells.
    path.write_bytes(DEFAULT.read_bytes())
    info = read_model(path)
    stamp = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    with pytest.raises(ProviderError, match="changed on disk"):
        SessionPool("cpu").get(info)


@pytest.mark.parametrize("uri, reason", [
    ("file://otherhost/etc/hostname", "a file on another machine"),
    ("canary.png", "not a file URL"),
    ("../outside/secret.png", "not a file URL"),
    ("file:relative.png", "not an absolute path"),
    ("https://example.com/cat.jpg", "remote URLs are not fetched"),
    ("", "not a file URL"),
])
def test_only_absolute_local_file_urls_name_files(uri, reason):
    with pytest.raises(Rejected, match=reason):
        path_from_uri(uri)


def test_local_file_urls_keep_their_bytes():
    assert path_from_uri("file:///tmp/a%20b.png") == "/tmp/a b.png"
    assert path_from_uri("file://localhost/tmp/x.png") == "/tmp/x.png"
    assert path_from_uri("file:///caf%E9.png") == os.fsdecode(b"/caf\xe9.png")
