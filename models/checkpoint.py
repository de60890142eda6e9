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
from resnet_studio.core.text import first_line


class CheckpointError(Exception):
    pass


def atomic_save_torch(obj: Any, target: Path) -> None:
    with atomic_path(target) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:
            # torch's zip writer reports a failed write as a bare iostream error.
            raise CheckpointError(f"cannot write {target}: the disk may be full or the file too large "
                                  f"({first_line(exc)})") from None


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
        first = first_line(exc)
        if "weights_only" in str(exc) or "global" in str(exc).lower():
            raise CheckpointError(f"{path}: refused, it needs unpickling of arbitrary objects, which could run "
                                  f"code; only plain state dicts are loaded") from None
        raise CheckpointError(f"{path}: not a readable checkpoint ({first})") from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, ImportError) as exc:
        first = first_line(exc)
        raise CheckpointError(f"{path}: not a readable checkpoint ({first})") from None


def safetensors_metadata(path: Path) -> dict[str, Any]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("resnet_studio", "{}"))


def mismatch_report(model: torch.nn.Module, state: dict[str, torch.Tensor], ignore: tuple[str, ...] = ()) -> str:
    """A readable list of missing, unexpected and mis-shaped keys; empty when the state dict fits."""
    expected = {k: v.shape for k, v in model.state_dict().items() if not k.startswith(ignore)}
    given = {k: v.shape for k, v in state.items() if not k.startswith(ignore)}
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    misshaped = sorted(k for k in set(expected) & set(given) if expected[k] != given[k])
    lines = []
    for title, keys, fmt in (("missing", missing, lambda k: k),
                             ("unexpected", unexpected, lambda k: k),
                             ("mis-shaped", misshaped,
                              lambda k: f"{k}: file {tuple(given[k])}, model {tuple(expected[k])}")):
        if keys:
            shown = ", ".join(fmt(k) for k in keys[:8])
            more = f" and {len(keys) - 8} more" if len(keys) > 8 else ""
            lines.append(f"{len(keys)} {title}: {shown}{more}")
    return "; ".join(lines)


def training_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, labels: list[str],
                   epochs: int) -> tuple[int, list[dict]]:
    """Load ``last.pt`` into ``model`` and ``optimizer``, after checking everything in it; returns the
    epoch it ended and the history. A checkpoint that does not fit this run is a one-line CheckpointError."""
    state = load_checkpoint(path)
    missing = [key for key in ("model", "optimizer", "epoch", "meta", "history") if key not in state]
    if missing:
        raise CheckpointError(f"{path}: not a training checkpoint of resnet-studio train (no {', '.join(missing)}); "
                              f"start without --resume")
    epoch = state["epoch"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 0 <= epoch <= epochs:
        raise CheckpointError(f"{path}: records epoch {epoch!r}, not one of 0..{epochs} (--epochs {epochs})")
    try:
        meta, history = json.loads(state["meta"]), json.loads(state["history"])
    except (TypeError, ValueError):
        raise CheckpointError(f"{path}: its meta or history is not JSON; start without --resume") from None
    if not isinstance(meta, dict) or not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise CheckpointError(f"{path}: its meta or history has the wrong shape; start without --resume")
    if meta.get("labels") != labels:
        from resnet_studio.core.text import shown

        raise CheckpointError(f"{path}: trained on the classes {shown(', '.join(map(str, meta.get('labels') or [])), 120)}"
                              f", but the data now has {shown(', '.join(labels), 120)}; start without --resume")
    report = mismatch_report(model, state["model"]) if isinstance(state["model"], dict) else "not a state dict"
    if report:
        raise CheckpointError(f"{path}: its weights do not fit this model ({report}); start without --resume")
    model.load_state_dict(state["model"])
    try:
        optimizer.load_state_dict(state["optimizer"])
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: its optimizer state does not fit this run ({str(exc)[:120]}); "
                              f"start without --resume") from None
    return epoch, history[:epoch]
