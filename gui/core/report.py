"""Classification results written to CSV or JSON, and read back (File → Export results).

One record per image: its path, the model, weights, precision and provider that produced
it, the out-of-distribution flag and score, the top-k predictions, or the reason it failed.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable

from .engine import Result
from .local_file import atomic_path

FORMAT = "resnet-studio results"
VERSION = 1
STREAM_SUFFIXES = (".jsonl", ".csv")  # what predict --output streams to
FIELDS = ["path", "model", "weights", "precision", "provider", "out_of_distribution", "ood_score", "error"]
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV Injection"),
# and labels and file names are untrusted: such cells get a leading apostrophe, removed on reading.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ReportError(Exception):
    """Why a results file cannot be written or read; ``str()`` is one line."""


def record(result: Result) -> dict[str, Any]:
    return {
        "path": result.source, "model": result.model, "weights": result.weights, "precision": result.precision,
        "provider": result.provider, "out_of_distribution": result.out_of_distribution,
        "ood_score": result.ood_score, "error": result.error,
        "top_k": [{"rank": rank, "index": p.index, "label": p.label, "probability": p.probability}
                  for rank, p in enumerate(result.predictions, 1)],
    }


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_header(k: int) -> list[str]:
    return FIELDS + [f"top{rank}_{part}" for rank in range(1, k + 1) for part in ("label", "index", "probability")]


def _csv_row(r: dict[str, Any], k: int) -> list[str]:
    row = [_csv_cell(r[name]) for name in FIELDS]
    for p in r["top_k"][:k]:
        row += [_csv_cell(p["label"]), str(p["index"]), repr(p["probability"])]
    return row + [""] * (len(FIELDS) + 3 * k - len(row))


def _csv_text(records: list[dict[str, Any]]) -> str:
    k = max((len(r["top_k"]) for r in records), default=0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_csv_header(k))
    writer.writerows(_csv_row(r, k) for r in records)
    return out.getvalue()


def write(path: str | os.PathLike, results: Iterable[Result]) -> int:
    """Write ``results`` as CSV or JSON (by the suffix), atomically; returns how many were written."""
    path = Path(path)
    records = [record(r) for r in results]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        text = _csv_text(records)
    elif suffix == ".json":
        text = json.dumps({"format": FORMAT, "version": VERSION, "results": records}, indent=2, ensure_ascii=False)
    else:
        raise ReportError(f"{path.name}: choose a .csv or .json file name")
    try:
        with atomic_path(path) as temporary:
            temporary.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise ReportError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return len(records)


def stream(path: str | os.PathLike, results: Iterable[Result], top_k: int) -> tuple[int, int]:
    """Write ``results`` as they arrive: JSON lines (``.jsonl``, one ``predict --json`` result a line)
    or CSV (``.csv``, the columns of ``write``). The file appears, whole, when the last result is in.

    Returns how many results were written and how many of them failed.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in STREAM_SUFFIXES:
        raise ReportError(f"{path.name}: choose a .jsonl or .csv file name")
    total = failed = 0
    try:
        with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            if suffix == ".csv":
                writer.writerow(_csv_header(top_k))
            for result in results:
                total += 1
                failed += not result.ok
                if suffix == ".jsonl":
                    out.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
                else:
                    writer.writerow(_csv_row(record(result), top_k))
    except OSError as exc:
        raise ReportError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return total, failed


def _plain(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def _optional(text: str, kind):
    return None if text == "" else kind(text)


def read(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The records of a file ``write`` made, in the same form as ``record`` gives."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ReportError(f"{path.name}: not a version {VERSION} results file")
        return data["results"]
    records = []
    for row in csv.DictReader(io.StringIO(text)):
        entry: dict[str, Any] = {name: _optional(_plain(row[name]), str) for name in FIELDS}
        flag = entry["out_of_distribution"]
        entry["out_of_distribution"] = None if flag is None else flag == "True"
        entry["ood_score"] = _optional(row["ood_score"], float)
        entry["top_k"] = []
        rank = 1
        while row.get(f"top{rank}_index"):
            entry["top_k"].append({"rank": rank, "index": int(row[f"top{rank}_index"]),
                                   "label": _plain(row[f"top{rank}_label"]),
                                   "probability": float(row[f"top{rank}_probability"])})
            rank += 1
        records.append(entry)
    return records
