"""A training run as the Train panel shows it, built from the child's JSON lines (``train --progress-json``):
the curves, the time left, the layer responses by epoch, and honest words for its accuracy. Qt-free."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from resnet_studio.core.evaluation import accuracy_text
from resnet_studio.core.text import shown

MAX_LINE = 1 << 20  # a progress line longer than this is not one of ours


def parse_line(line: bytes) -> dict | None:
    """One progress event, or None for anything else a library printed."""
    if len(line) > MAX_LINE:
        return None
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    return event if isinstance(event, dict) and isinstance(event.get("stage"), str) else None


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass
class Progress:
    """Everything the run has said so far."""

    epochs: int = 0
    held_out: int = 0
    settings: dict = field(default_factory=dict)
    steps: list[tuple[float, float, float]] = field(default_factory=list)  # (epoch position, loss, train acc)
    rows: list[dict] = field(default_factory=list)  # one per finished epoch
    eta: float | None = None
    stage: str = "starting"
    report: dict | None = None
    error: str | None = None

    def take(self, event: dict) -> None:
        kind = event["stage"]
        if kind == "start":
            self.settings = event
            self.epochs = int(_number(event.get("epochs")) or 0)
            self.held_out = int(_number(event.get("held_out_images")) or 0)
            self.stage = "training"
            resumed = int(_number(event.get("resumed_from_epoch")) or 0)
            self.rows = [r for r in self.rows if r["epoch"] <= resumed]
            self.steps = [s for s in self.steps if s[0] <= resumed]
        elif kind == "step":
            step, steps, epoch = (_number(event.get(k)) for k in ("step", "steps", "epoch"))
            loss, acc = _number(event.get("train_loss")), _number(event.get("train_acc"))
            if None not in (step, steps, epoch, loss, acc) and steps > 0:
                self.steps.append((epoch - 1 + step / steps, loss, acc))
            self.eta = _number(event.get("eta_seconds"))
        elif kind == "epoch":
            responses = event.get("responses")
            self.rows.append({"epoch": int(_number(event.get("epoch")) or len(self.rows) + 1),
                              "train_loss": _number(event.get("train_loss")),
                              "train_acc": _number(event.get("train_acc")), "val_acc": _number(event.get("val_acc")),
                              "responses": [float(v) for v in responses if _number(v) is not None]
                              if isinstance(responses, list) else [],
                              "seconds": _number(event.get("seconds"))})
            self.eta = _number(event.get("eta_seconds"))
        elif kind == "export":
            self.stage = "exporting"
        elif kind == "done" and isinstance(event.get("report"), dict):
            self.stage, self.report = "done", event["report"]
        elif kind in ("error", "cancelled"):
            self.stage = kind
            self.error = shown(str(event.get("message", kind)), 300)

    def val_text(self) -> str:
        """The last held-out accuracy in words, with its interval on a small split; never the training figure."""
        last = next((r for r in reversed(self.rows) if r["val_acc"] is not None), None)
        if last is None or not self.held_out:
            return "validation accuracy: not measured yet"
        correct = round(last["val_acc"] * self.held_out)
        return accuracy_text(correct, self.held_out, "validation accuracy") + " held out from training"

    def status(self) -> str:
        done = self.rows[-1]["epoch"] if self.rows else 0
        if self.stage == "starting":
            return "starting the training process…"
        if self.stage == "exporting":
            return "training done; exporting fp32 and int8 and checking them…"
        left = f", about {clock(self.eta)} left" if self.eta is not None and self.stage == "training" else ""
        return f"epoch {done} of {self.epochs} done{left}"

    def chosen(self) -> str:
        """What the command chose for this data, in words."""
        s = self.settings
        if not s:
            return ""
        parts = [f"{s.get('train_images')} training and {s.get('held_out_images')} held-out images",
                 f"batch {s.get('batch_size')}{' (scaled to the data)' if s.get('batch_chosen') else ''}, "
                 f"{s.get('steps_per_epoch')} steps an epoch",
                 f"learning rate {s.get('lr')}{' (chosen for these weights)' if s.get('lr_chosen') else ''}"]
        return shown("; ".join(parts), 300)

    def responses(self) -> list[list[float]]:
        """[epoch][block]: each block's F(x) standard deviation on the fixed held-out batch."""
        return [r["responses"] for r in self.rows if r["responses"]]


def clock(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
