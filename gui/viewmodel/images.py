"""The images the app holds and the queue that classifies them, without Qt.

``ImageRegistry`` numbers every image added; ``ClassificationQueue`` keeps which of them still wait
for the current model, which are in flight, and how many are done. A model switch starts a new
generation: answers computed for the old model carry the old number and are dropped.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from resnet_studio.core.engine import Engine, Result, percent
from resnet_studio.core.model_file import ModelInfo
from resnet_studio.core.text import first_line, shown


@dataclass
class ImageEntry:
    id: int
    path: str
    result: Result | None = None
    error: str | None = None
    thumb: Any = None  # the view's thumbnail (a QImage in the app), made on the worker that decoded the image
    intact: Result | None = None  # while blocks are removed: the answer of the whole network, to compare with
    refused: bool = False  # turned away on intake (a remote URL, say): never queued, whatever the model

    @property
    def name(self) -> str:
        return Path(self.path).name or self.path

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None

    @property
    def state(self) -> str:
        """One of STATES: what the image list filters on."""
        if self.error is not None:
            return "failed"
        if self.result is None:
            return "waiting"
        return "flagged" if self.result.out_of_distribution else "classified"


def lesion_change(result: Result, intact: Result | None) -> str:
    """What removing blocks did to an image's answer: the intact top class's probability before and after."""
    if intact is None or not intact.predictions:
        return ""
    was = intact.predictions[0]
    now = next((p for p in result.predictions if p.index == was.index), None)
    if now is None:
        return f"intact: {was.label} {was.percent}, now out of the top {len(result.predictions)}"
    points = (now.probability - was.probability) * 100
    change = "unchanged" if abs(points) < 0.05 else f"{points:+.1f} pts"
    return f"intact: {was.label} {was.percent} → {now.percent} ({change})"


STATES = ("classified", "flagged", "failed", "waiting")
FILTERS = {"all": STATES, "flagged only (unlike the training data)": ("flagged",), "failed only": ("failed",)}


def summary(entries: list[ImageEntry]) -> str:
    """The image list's header: how many, what became of them, and where they come from."""
    if not entries:
        return "No images yet: drop some, or File → Open images, or File → Open sample images."
    counts = {state: sum(1 for e in entries if e.state == state) for state in STATES}
    parts = [f"{len(entries):,} image{'s' if len(entries) != 1 else ''}"]
    parts += [f"{counts[s]:,} {s}" for s in ("flagged", "failed", "waiting") if counts[s]]
    folders = {str(Path(e.path).parent) for e in entries if not e.refused}
    where = f" · in {folders.pop()}" if len(folders) == 1 else f" · from {len(folders)} folders" if folders else ""
    return " · ".join(parts) + where


class ImageRegistry:
    """Every image added, in order, by id."""

    def __init__(self) -> None:
        self.entries: dict[int, ImageEntry] = {}
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def add(self, path: str, error: str | None = None) -> ImageEntry:
        entry = ImageEntry(self.next_id(), path, error=error, refused=error is not None)
        self.entries[entry.id] = entry
        return entry

    def clear(self) -> None:
        self.entries.clear()

    def classifiable(self) -> list[int]:
        return [entry.id for entry in self.entries.values() if not entry.refused]

    def results(self, info: ModelInfo | None) -> list[Result]:
        """Every image's result or reason, in the order added; images still waiting are left out."""
        out = []
        for entry in self.entries.values():
            if entry.result is not None:
                out.append(entry.result)
            elif entry.error is not None and info is not None:
                out.append(Result.failure(info, entry.path, entry.error))
        return out


class ClassificationQueue:
    """Which images wait for the current model, which are in flight, and how many are done."""

    def __init__(self) -> None:
        self.generation = 0
        self.pending: list[int] = []
        self.unanswered: set[int] = set()  # ids of the chunk in flight not answered yet
        self.in_flight = False
        self.done = 0

    @property
    def total(self) -> int:
        return self.done + len(self.pending) + len(self.unanswered)

    def restart(self, ids: list[int]) -> None:
        """A new model (or a clear): every id in ``ids`` waits again; answers in flight become stale."""
        self.generation += 1
        self.pending = list(ids)
        self.unanswered.clear()
        self.done = 0

    def take(self, count: int) -> list[int]:
        chunk, self.pending = self.pending[:count], self.pending[count:]
        self.unanswered = set(chunk)
        self.in_flight = True
        return chunk

    def answer(self, generation: int, entry_id: int) -> bool:
        """Whether an answer still counts (same model, still waited for); it is counted if so."""
        if generation != self.generation or entry_id not in self.unanswered:
            return False
        self.unanswered.discard(entry_id)
        self.done += 1
        return True

    def cancel(self) -> int:
        """Drop everything waiting or in flight; returns how many images are left unclassified."""
        dropped = len(self.pending) + len(self.unanswered)
        self.pending.clear()
        self.unanswered.clear()
        return dropped


@dataclass(frozen=True)
class Answer:
    """One image's answer from a chunk: its result or reason, and the thumbnail made while decoding it."""

    generation: int
    entry_id: int
    result: Result | None
    error: str | None
    thumb: Any


def classify_chunk(engine: Engine, info: ModelInfo, generation: int, jobs: list[tuple[int, str, bool]],
                   batch_size: int, cancelled: threading.Event,
                   make_thumbnail: Callable[[Any], Any]) -> Iterator[Answer]:
    """Classify ``jobs`` (entry id, path, wants a thumbnail), answering each in order.

    A chunk stops between two images once ``cancelled`` is set, leaving the rest unanswered; when the
    whole batch fails (the model cannot run), every remaining image gets that one-line reason.
    """
    thumbs: dict[str, list[Any]] = {}  # per path, in decoding order: a path given twice is answered twice
    wanted = {path for _, path, needs_thumb in jobs if needs_thumb}

    def keep_thumbnail(source: str, image) -> None:
        thumbs.setdefault(source, []).append(make_thumbnail(image) if source in wanted else None)

    def thumb_of(path: str):
        return thumbs[path].pop(0) if thumbs.get(path) else None

    answered = 0
    results = engine.classify_files(info, [path for _, path, _ in jobs], batch_size=batch_size,
                                    decoded_hook=keep_thumbnail)
    try:
        for (entry_id, path, _), result in zip(jobs, results):
            if cancelled.is_set():
                return
            yield Answer(generation, entry_id, result if result.ok else None, result.error, thumb_of(path))
            answered += 1
    except Exception as exc:  # noqa: BLE001 - each image of a failed batch says why, never "…"
        if cancelled.is_set():
            return  # stopped on purpose: what is left stays unclassified
        for entry_id, path, _ in jobs[answered:]:
            yield Answer(generation, entry_id, None, first_line(exc), thumb_of(path))
    finally:
        results.close()  # stops the decoding thread of a chunk left early


def class_choices(labels: list[str], probabilities, top: list, heads: int) -> list[tuple[str, int | None] | None]:
    """The CAM's class list as (text, class) rows, None for a separator: "top class"; once an image is
    classified, its ``heads`` most likely classes as the predictions show them; then every class in the
    model's order with its probability."""
    chances: dict[int, str] = {}
    if probabilities is not None and len(probabilities) == len(labels):
        chances = {i: percent(float(p)) for i, p in enumerate(probabilities)}
    # The image's own answer wins: the CAM's run (the full graph) may round differently in the last digit.
    chances.update({p.index: p.percent for p in top})

    def text(index: int) -> str:
        return f"{index}: {shown(labels[index], 80)}" + (f" · {chances[index]}" if index in chances else "")

    first = [p.index for p in top][:heads]
    if not first and chances:
        first = [int(i) for i in sorted(range(len(labels)), key=lambda i: -probabilities[i])[:heads]]
    rows: list[tuple[str, int | None] | None] = [("top class", None)]
    rows += [(f"★ {text(i)}", i) for i in first] + ([None] if first else [])
    return rows + [(text(i), i) for i in range(len(labels))]
