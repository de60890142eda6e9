"""What ``resnet-export`` and the app agree on: the file name an export gets, and the progress events the
exporter prints with ``--progress-json`` (one JSON object a line) that the app's export job reads."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

# stage -> what the app shows while it runs, in the order an export goes through them.
STAGES = {"download": "Downloading weights", "build": "Building the model", "export": "Exporting to ONNX",
          "fp16": "Converting to fp16", "quantize": "Quantizing to int8", "verify": "Verifying against PyTorch",
          "score": "Scoring on the test set"}
DONE, ERROR = "done", "error"  # the last event: {"stage": "done", "report": ...} or {"stage": "error", "message": ...}


def export_file_name(variant: str, weights: str, precision: str) -> str:
    """``resnet50-imagenet-fp32.onnx``; weights from a file are named by its stem."""
    tag = weights if weights == "random" or weights.startswith("imagenet") else PurePath(weights).stem
    return f"{variant}-{tag}-{precision}.onnx"


def event_line(stage: str, **fields: Any) -> str:
    if stage not in STAGES and stage not in (DONE, ERROR):
        raise ValueError(f"not an export event: {stage!r}")
    return json.dumps({"stage": stage, **fields})


def parse_event(line: bytes | str) -> dict | None:
    """The event a line holds, or None for anything else a library printed on stdout."""
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or event.get("stage") not in (*STAGES, DONE, ERROR):
        return None
    return event
