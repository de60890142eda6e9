"""Weights for a built model: He-random, torchvision's ImageNet checkpoints, or a local file."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable
from urllib.error import URLError

import torch
from torch import nn

from .checkpoint import CheckpointError, load_checkpoint, mismatch_report, safetensors_metadata
from .registry import ImageNetWeights, Variant

# Seconds a connection or a single read may wait. A stalled network fails in seconds, not minutes;
# torch.hub's own downloader has no timeout at all.
NETWORK_TIMEOUT_S = 10.0
# A download that brings less than STALL_MIN_BYTES in any STALL_WINDOW_S, or is not done after
# DOWNLOAD_DEADLINE_S, ends: a mirror that trickles a byte every few seconds resets no per-read timeout.
STALL_WINDOW_S, STALL_MIN_BYTES = 20.0, 256 * 1024
DOWNLOAD_DEADLINE_S = 1800.0
STALL_ENV, DEADLINE_ENV = "RESNET_STUDIO_DOWNLOAD_STALL_S", "RESNET_STUDIO_DOWNLOAD_DEADLINE_S"
DownloadProgress = Callable[[int, int | None], None]  # bytes so far, total (None when the server does not say)


class WeightsError(Exception):
    pass


class DownloadError(WeightsError):
    """The checkpoint could not be fetched; ``url`` and ``cache_path`` say where it was to come from and go."""

    def __init__(self, message: str, url: str, cache_path: Path) -> None:
        super().__init__(message)
        self.url, self.cache_path = url, cache_path


def imagenet_entry(variant: Variant, source: str) -> ImageNetWeights:
    """Pick the checkpoint for ``imagenet`` (V2 where it exists, as torchvision's DEFAULT), ``-v1`` or ``-v2``."""
    if not variant.imagenet:
        raise WeightsError(f"{variant.name} has no ImageNet checkpoint; use random or a file")
    version = source.removeprefix("imagenet").lstrip("-") or ("v2" if "v2" in variant.imagenet else "v1")
    if version not in variant.imagenet:
        raise WeightsError(f"{variant.name} has no ImageNet {version} checkpoint; "
                           f"available: {', '.join('imagenet-' + v for v in variant.imagenet)}")
    return variant.imagenet[version]


def sha256_of(path: Path) -> str:
    """The file's sha256; a FIFO or a device (which could block or never end) is refused first."""
    from resnet_studio.core.local_file import NotARegularFile, open_regular

    digest = hashlib.sha256()
    try:
        with open_regular(path) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    except NotARegularFile as exc:
        raise WeightsError(f"{path} is {exc.strerror}; delete it so the checkpoint can be downloaded") from None
    return digest.hexdigest()


def fetch_imagenet(entry: ImageNetWeights, url: str | None = None,
                  progress: DownloadProgress | None = None, expected_bytes: int | None = None) -> Path:
    """Return the checkpoint's path in torch.hub's cache, downloading it first if needed.

    The sha256 prefix in the file name is checked on download and again for a file that
    was placed in the cache by hand. ``expected_bytes`` (about what the file weighs) caps the download.
    """
    target = entry.cache_path
    url = url or entry.url
    if not os.path.lexists(target):
        download(url, target, entry.sha256_prefix, progress, max_bytes=_size_cap(expected_bytes))
    digest = sha256_of(target)
    if not digest.startswith(entry.sha256_prefix):
        raise WeightsError(f"{target} has sha256 {digest[:16]}…, expected {entry.sha256_prefix}…; "
                           f"delete it and download again")
    return target


def _size_cap(expected_bytes: int | None) -> int | None:
    """What a checkpoint may weigh: the estimate from its parameter count, plus room for the file format."""
    return None if expected_bytes is None else int(expected_bytes * 1.1) + 4 * 2**20


def _deadline_s() -> float:
    return float(os.environ.get(DEADLINE_ENV, DOWNLOAD_DEADLINE_S))


def _stall_s() -> float:
    return float(os.environ.get(STALL_ENV, STALL_WINDOW_S))


class _Pace:
    """The bounds of one download: an overall deadline, and a least amount of data in every window."""

    def __init__(self) -> None:
        self.started = self.window_started = time.monotonic()
        self.window_bytes = 0

    def check(self, received: int) -> None:
        now = time.monotonic()
        if now - self.started > _deadline_s():
            raise TimeoutError(f"not finished within {_deadline_s():.0f} s")
        self.window_bytes += received
        if now - self.window_started >= _stall_s():
            if self.window_bytes < STALL_MIN_BYTES:
                raise TimeoutError(f"{self.window_bytes:,} bytes in {now - self.window_started:.0f} s, under "
                                   f"{STALL_MIN_BYTES // 1024} KiB; the connection is stalled")
            self.window_started, self.window_bytes = now, 0


def download(url: str, target: Path, sha256_prefix: str, progress: DownloadProgress | None = None,
             timeout: float = NETWORK_TIMEOUT_S, max_bytes: int | None = None) -> None:
    """Stream ``url`` into a temp file beside ``target``, hashing as it goes; rename it into place if it checks.

    Bounded three ways: each connection or read waits at most ``timeout``; a window of ``STALL_WINDOW_S``
    that brings less than ``STALL_MIN_BYTES``, or a whole download past ``DOWNLOAD_DEADLINE_S``, ends it;
    and it stops the moment more than ``max_bytes`` arrive (or are announced).
    """
    from resnet_studio.core.local_file import replace_into

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise DownloadError(f"cannot write to {target.parent} ({exc.strerror or exc})", url, target) from None
    digest = hashlib.sha256()
    pace = _Pace()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and max_bytes is not None and total > max_bytes:
                raise ValueError(f"the server announces {total:,} bytes, more than the {max_bytes:,} this "
                                 f"checkpoint can weigh")
            done = 0
            if progress:
                progress(0, total)
            # read1: what has arrived, after at most one wait; read(n) would wait for all n bytes of a trickle.
            while chunk := response.read1(1 << 16):
                done += len(chunk)
                if max_bytes is not None and done > max_bytes:
                    raise ValueError(f"more than the {max_bytes:,} bytes this checkpoint can weigh arrived")
                out.write(chunk)
                digest.update(chunk)
                pace.check(len(chunk))
                if progress:
                    progress(done, total)
        if not digest.hexdigest().startswith(sha256_prefix):
            raise WeightsError(f"download of {url} failed its check: sha256 {digest.hexdigest()[:16]}…, "
                               f"expected {sha256_prefix}…")
        replace_into(partial, target)
    except (URLError, OSError, TimeoutError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise DownloadError(f"cannot download {url} ({reason}); with no network, place the file by hand "
                            f"at {target}", url, target) from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A plain state dict from a file, unwrapping {"model": ...} / {"state_dict": ...} checkpoints."""
    try:
        state = load_checkpoint(path)
    except CheckpointError as exc:
        raise WeightsError(str(exc)) from None
    for key in ("model", "state_dict"):
        if isinstance(state.get(key), dict):
            state = state[key]
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise WeightsError(f"{path}: not a state dict of named tensors")
    for key, tensor in state.items():
        # A view can claim far more than its storage holds (stride 0): 1 MB on disk, gigabytes once copied.
        claimed = tensor.numel() * tensor.element_size()
        if claimed > tensor.untyped_storage().nbytes():
            raise WeightsError(f"{path}: tensor {key} claims {claimed / 1e6:,.0f} MB from "
                               f"{tensor.untyped_storage().nbytes() / 1e6:,.1f} MB of storage; refused")
    return state


def apply_state_dict(model: nn.Module, state: dict[str, torch.Tensor], origin: str, skip_head: bool = False) -> None:
    """Load with strict key and shape matching; ``skip_head`` keeps the model's own fc (fine-tuning)."""
    ignore = ("fc.",) if skip_head else ()
    report = mismatch_report(model, state, ignore)
    if report:
        raise WeightsError(f"{origin} does not fit {type(model).__name__}: {report}")
    if skip_head:
        state = {**{k: v for k, v in state.items() if not k.startswith("fc.")},
                 **{k: v for k, v in model.state_dict().items() if k.startswith("fc.")}}
    model.load_state_dict(state, strict=True)


def resolve_weights(source: str, variant: Variant, progress: DownloadProgress | None = None
                    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """State dict and a description of where it came from, for ``imagenet*`` or a file path."""
    if source.startswith("imagenet"):
        entry = imagenet_entry(variant, source)
        path = fetch_imagenet(entry, progress=progress, expected_bytes=variant.checkpoint_bytes())
        info = {"source": source if source != "imagenet" else f"imagenet-{_version_of(variant, entry)}",
                "file": entry.file, "url": entry.url, "sha256": sha256_of(path),
                "imagenet_top1": entry.acc1, "resize": entry.resize, "crop": entry.crop}
        return read_state_dict(path), info
    path = Path(source)
    if not path.is_file():
        raise WeightsError(f"{source}: no such file, and not one of random, imagenet, imagenet-v1, imagenet-v2")
    info: dict[str, Any] = {"source": "file", "file": path.name, "sha256": sha256_of(path)}
    if path.suffix == ".safetensors":
        try:
            info["trained"] = safetensors_metadata(path)
        except Exception:  # noqa: BLE001 - metadata is optional; the tensors are checked below
            pass
    return read_state_dict(path), info


def _version_of(variant: Variant, entry: ImageNetWeights) -> str:
    return next(v for v, e in variant.imagenet.items() if e == entry)


def load_weights_into(model: nn.Module, source: str, variant: Variant, skip_head: bool = False) -> dict[str, Any]:
    state, info = resolve_weights(source, variant)
    apply_state_dict(model, state, info.get("file", source), skip_head=skip_head)
    return info
