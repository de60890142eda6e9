"""The models a user can pick: catalog files, with the fp32/fp16/int8 twins of one model as one
offer, and every registry variant that is not exported yet, with the weights it would get.

Qt-free and torch-free: ``resnet-studio models --all`` and ``predict`` read it as the app does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from resnet_studio.models.registry import VARIANTS, ImageNetWeights, Variant

from resnet_studio.core.catalog import Catalog, ModelFileEntry
from resnet_studio.core.export_protocol import export_file_name
from resnet_studio.core.file_contract import PRECISIONS
from resnet_studio.core.model_file import ModelInfo, ModelRejected
from .naming import found_family

GROUP_TITLES = {"trained": "Trained", "imagenet": "ImageNet weights",
                "untrained": "Untrained (random weights: predictions are meaningless)",
                "no metadata": "Files from other tools (no metadata)", "unusable": "Unusable"}
# Fastest first. int8 (static QDQ, U8S8) ran ResNet-50 at 3.6x fp32 on this project's CPU; fp16 is for GPUs.
PREFERENCE = {"cpu": ("int8", "fp32", "fp16"), "cuda": ("fp16", "fp32", "int8")}


@dataclass
class Offer:
    """One model in the picker: files on disk (by precision), or a variant an export would make."""

    key: str
    title: str
    group: str
    variant: str | None = None
    files: dict[str, ModelFileEntry] = field(default_factory=dict)
    weights: str | None = None  # what an export would load: "imagenet" or "random"
    checkpoint: ImageNetWeights | None = None
    error: str | None = None

    @property
    def exported(self) -> bool:
        return bool(self.files)

    @property
    def shipped(self) -> bool:
        return any(e.origin == "shipped" for e in self.files.values())

    @property
    def info(self) -> ModelInfo | None:
        """The metadata of any one twin: they share variant, weights, labels and structure."""
        return next((e.info for e in self.files.values() if e.info), None)

    @property
    def checkpoint_cached(self) -> bool:
        return self.checkpoint is not None and self.checkpoint.cache_path.is_file()

    def paths(self) -> list[Path]:
        return [e.path for e in self.files.values()]

    def pick(self, device: str, override: str = "auto") -> ModelFileEntry:
        """The twin to run: ``override`` when it exists, else the fastest for ``device`` ("cpu" or "cuda")."""
        order = ((override,) if override in self.files else ()) + PREFERENCE[device]
        return next(self.files[p] for p in order if p in self.files)

    def export_output(self, precision: str = "fp32") -> str:
        """The file name ``resnet-export`` gives this export by default."""
        return export_file_name(self.variant, self.weights, precision)

    def export_command(self, models_dir: Path) -> str:
        return (f"resnet-export {self.variant} --weights {self.weights} "
                f"--output {models_dir / self.export_output()}")

    def line(self) -> str:
        """How the picker and ``models --all`` describe it, in one line."""
        if self.error:
            return f"{self.title} — unusable: {self.error}"
        info = self.info
        variant = VARIANTS.get(self.variant or "")
        parts = [self.variant or (found_family(info.architecture) if info.discovery else "no metadata")] if info else []
        if info:
            parts.append(" / ".join(p for p in PRECISIONS if p in self.files))
            if info.discovery:
                parts.append(info.discovery.summary())
        elif self.weights == "imagenet" and self.checkpoint is not None:
            parts.append(f"ImageNet weights ({self.checkpoint.acc1:.1f}% top-1)")
        else:
            parts.append("random weights")
        params = info.meta.params if info and info.meta.params else (variant.params() if variant else None)
        macs = info.meta.macs if info and info.meta.macs else (variant.macs() if variant else None)
        if params:
            parts.append(f"{params / 1e6:.2f}M params")
        if macs:
            parts.append(f"{macs / 1e9:.3g} GMACs")
        if info and info.accuracy is not None:
            parts.append(f"{info.accuracy:.1%} on {info.meta.dataset or 'its test set'}")
        if not self.exported:
            parts.append(self.state())
        return f"{self.title} — " + " · ".join(parts)

    def state(self) -> str:
        if self.exported:
            return "on disk: " + ", ".join(p for p in PRECISIONS if p in self.files)
        if self.weights == "imagenet" and self.checkpoint is not None:
            if self.checkpoint_cached:
                return "not exported; checkpoint cached"
            return f"not exported; download ≈ {VARIANTS[self.variant].checkpoint_bytes() / 1e6:.0f} MB"
        return "not exported"


def _twin_key(entry: ModelFileEntry) -> str:
    info = entry.info
    if info is None or not info.has_metadata:
        return f"file:{entry.path}"
    weights = info.meta.weights
    identity = weights.sha256 or weights.file or ""
    return f"model:{info.variant}:{weights.source}:{identity}:{info.num_classes}:{info.preprocess.crop}:{entry.origin}"


def _title(entries: list[ModelFileEntry]) -> str:
    stems = [e.path.stem for e in entries]
    fp32 = [e.path.stem for e in entries if e.info and e.info.precision == "fp32"]
    stem = fp32[0] if fp32 else stems[0]
    for precision in PRECISIONS:
        stem = stem.removesuffix(f"-{precision}")
    return stem


def offers(catalog: Catalog, entries: list[ModelFileEntry] | None = None) -> list[Offer]:
    """Every offer, grouped in the order of GROUP_TITLES (trained first), each group in a stable order."""
    entries = catalog.entries() if entries is None else entries
    by_key: dict[str, list[ModelFileEntry]] = {}
    for entry in entries:
        by_key.setdefault(_twin_key(entry), []).append(entry)
    found: list[Offer] = []
    covered: set[tuple[str, str]] = set()
    for key, members in by_key.items():
        first = members[0]
        if first.info is None:
            found.append(Offer(key, first.name, "unusable", error=first.error))
            continue
        files: dict[str, ModelFileEntry] = {}
        for entry in members:
            files.setdefault(entry.info.precision if entry.info.precision in PRECISIONS else "fp32", entry)
        info = first.info
        kind = info.meta.weights.kind if info.has_metadata else None
        if info.variant in VARIANTS and kind in ("imagenet", "random"):
            covered.add((info.variant, kind))
        found.append(Offer(key, _title(members), first.group, info.variant, files, weights=kind))
    for variant in VARIANTS.values():
        kind = "imagenet" if variant.imagenet else "random"
        if (variant.name, kind) not in covered:
            found.append(_variant_offer(variant, kind))
    order = list(GROUP_TITLES)
    found.sort(key=lambda o: (order.index(o.group), not o.exported, _variant_rank(o), o.title))
    return found


def _variant_offer(variant: Variant, kind: str) -> Offer:
    checkpoint = None
    if kind == "imagenet":
        checkpoint = variant.imagenet.get("v2") or variant.imagenet["v1"]
    return Offer(f"variant:{variant.name}:{kind}", variant.name, "imagenet" if kind == "imagenet" else "untrained",
                 variant.name, weights=kind, checkpoint=checkpoint)


def _variant_rank(offer: Offer) -> int:
    names = list(VARIANTS)
    return names.index(offer.variant) if offer.variant in VARIANTS else len(names)


def offer_for_path(all_offers: list[Offer], path: Path) -> Offer | None:
    for offer in all_offers:
        if any(p == path for p in offer.paths()):
            return offer
    return None


def default_offer(catalog: Catalog, all_offers: list[Offer]) -> Offer:
    """The offer holding the shipped default model, or the first usable one."""
    default = catalog.default()
    return offer_for_path(all_offers, default.path) or next(o for o in all_offers if o.exported and not o.error)


def resolve(catalog: Catalog, name: str | None, device: str = "cpu", precision: str = "auto") -> ModelInfo:
    """A file name or path as the catalog knows it; else a variant name, as the twin ``device`` runs best
    (or the ``precision`` twin, where it exists).

    A variant that is not exported yet gets the command that makes it; nothing is downloaded.
    """
    if name is None:  # the default model, as the app runs it
        return default_offer(catalog, offers(catalog)).pick(device, precision).info
    try:
        return catalog.resolve(name)
    except ModelRejected:
        if name not in VARIANTS:
            raise
    matches = [o for o in offers(catalog) if o.variant == name]
    exported = [o for o in matches if o.exported and not o.error]
    if exported:
        return exported[0].pick(device, precision).info
    offer = matches[0]
    raise ModelRejected(f"{name} is not exported yet; make it with: {offer.export_command(catalog.models_dir)}")


def delete(offer: Offer) -> list[Path]:
    """Remove an offer's files from disk; shipped models are never deleted. Returns what was removed."""
    if offer.shipped:
        raise ModelRejected(f"{offer.title} ships with the app and cannot be deleted")
    removed = []
    for path in offer.paths():
        try:
            os.unlink(path)
            removed.append(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ModelRejected(f"cannot delete {path} ({exc.strerror or exc})") from None
    return removed
