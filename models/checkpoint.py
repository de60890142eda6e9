"""Reading and writing checkpoints without running anything a file asks to run.

Reads use ``torch.load(weights_only=True)`` or safetensors, never plain pickle.
Writes go to a temp file beside the target and are renamed over it, so an
interrupted or failed write leaves the previous file intact.
"""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

from resnet_studio.core.local_file import atomic_path


class CheckpointError(Exception):
    pass


def atomic_save_torch(obj: Any, target: Path) -> None:
    with atomic_path(target) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:
            # torch's zip writer reports a failed write as a bare iostream error.
            raise CheckpointError(f"cannot write {target}: the disk may be full or the file too large "
                                  f"({str(exc).strip().splitlines()[0]})") from None


def save_safetensors(state_dict: dict[str, torch.Tensor], meta: dict[str, Any], target: Path) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata={"resnet_studio": json.dumps(meta)})


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a ``.pt``/``.pth`` with the weights-only unpickler, or a ``.safetensors`` file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from None
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols it was not written with; the refusal below says enough.
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "global" in str(exc).lower():
            raise CheckpointError(f"{path}: refused, it needs unpickling of arbitrary objects, which could run "
                                  f"code; only plain state dicts are loaded") from None
        raise CheckpointError(f"{path}: not a readable checkpoint ({first})") from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first})") from None


def safetensors_metadata(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("resnet_studio", "{}"))
