"""Every model the app can offer: shipped in resources/, in the user's models folder, or given by path."""

from __future__ import annotations

import difflib
import os
import sys
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .model_file import ModelInfo, ModelRejected, read_model

MODELS_ENV = "RESNET_STUDIO_MODELS"
DEFAULT_MODEL = "resnet20-fashion-mnist"  # the smallest shipped ResNet


def user_models_dir() -> Path:
    """The platform's user data folder for models; ``$RESNET_STUDIO_MODELS`` overrides it."""
    if os.environ.get(MODELS_ENV):
        return Path(os.environ[MODELS_ENV])
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "ResNet Studio" / "models"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "ResNet Studio" / "models"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "resnet-studio" / "models"


def shipped_models_dir() -> Path:
    return Path(str(resources.files("resnet_studio.resources")))


@dataclass
class ModelFileEntry:
    path: Path
    origin: str  # "shipped", "user" or "given"
    info: ModelInfo | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def group(self) -> str:
        """trained, imagenet, untrained or no metadata: how the app groups its model list."""
        if self.info is None:
            return "unusable"
        if not self.info.has_metadata:
            return "no metadata"
        kind = self.info.meta.weights.kind
        return "untrained" if kind == "random" else kind


class Catalog:
    """Thread-safe: the app rescans from a worker while another worker resolves a name."""

    def __init__(self, models_dir: str | os.PathLike | None = None, extra: list[str | os.PathLike] = ()) -> None:
        self.models_dir = Path(models_dir) if models_dir else user_models_dir()
        self.extra = [Path(p) for p in extra]
        self._entries: list[ModelFileEntry] | None = None
        self._lock = threading.RLock()
        self._read: dict[Path, tuple[tuple[int, int], ModelFileEntry]] = {}  # per file: (mtime, size) and what it said

    def entries(self) -> list[ModelFileEntry]:
        with self._lock:
            if self._entries is None:
                self._entries = self._scan()
            return self._entries

    def rescan(self) -> list[ModelFileEntry]:
        """Look at the folders again; files whose size and modification time are unchanged are not re-read."""
        with self._lock:
            self._entries = self._scan()
            return self._entries

    def add(self, path: str | os.PathLike) -> None:
        """A file opened by path joins the catalog for this session."""
        with self._lock:
            if Path(path) not in self.extra:
                self.extra.append(Path(path))
                self._entries = None

    def _scan(self) -> list[ModelFileEntry]:
        found: list[ModelFileEntry] = []
        seen: set[Path] = set()
        sources = [(p, "shipped") for p in sorted(shipped_models_dir().glob("*.onnx"))]
        if self.models_dir.is_dir():
            sources += [(p, "user") for p in sorted(self.models_dir.glob("*.onnx"))]
        sources += [(p, "given") for p in self.extra]
        read: dict[Path, tuple[tuple[int, int], ModelFileEntry]] = {}
        for path, origin in sources:
            try:
                resolved = path.resolve()
                stat = path.stat()
            except (OSError, RuntimeError) as exc:  # a dangling link, or a loop of links
                found.append(ModelFileEntry(path, origin, error=f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})"))
                continue
            if resolved in seen:
                continue
            seen.add(resolved)
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._read.get(path)
            if cached and cached[0] == stamp and cached[1].origin == origin:
                entry = cached[1]
            else:
                try:
                    entry = ModelFileEntry(path, origin, read_model(path))
                except ModelRejected as exc:
                    entry = ModelFileEntry(path, origin, error=str(exc))
            read[path] = (stamp, entry)
            found.append(entry)
        self._read = read
        return found

    def _read_path(self, path: Path) -> ModelInfo:
        """What the last scan read, while the file is unchanged: parsing a model holds Python's GIL for
        about 2 ms per MB, so loading one must not parse it again. Otherwise read it now."""
        with self._lock:
            cached = self._read.get(path)
        try:
            stat = path.stat()
        except (OSError, RuntimeError):
            cached = None
        if cached and cached[1].info is not None and cached[0] == (stat.st_mtime_ns, stat.st_size):
            return cached[1].info
        return read_model(path)

    def reread(self, path: Path) -> ModelInfo:
        """Read ``path`` again (its preprocessing choice changed, say), and keep what was read for the list."""
        info = read_model(path)
        with self._lock:
            cached = self._read.get(path)
            if cached is not None:
                entry = ModelFileEntry(path, cached[1].origin, info)
                self._read[path] = (cached[0], entry)
                if self._entries is not None:
                    self._entries = [entry if e.path == path else e for e in self._entries]
        return info

    def by_name(self) -> dict[str, ModelFileEntry]:
        """Each name once. Where names collide, a user's file wins over a shipped one and a file
        given by path over both: the nearer source is the one the user meant. Every lookup by
        name (``resolve``, ``default``) goes through this."""
        named: dict[str, ModelFileEntry] = {}
        for entry in self.entries():  # in order: shipped, user, given
            named[entry.name] = entry
        return named

    def resolve(self, name_or_path: str | None) -> ModelInfo:
        """A catalog name or a path to an .onnx file; None means the default model."""
        if name_or_path is None:
            return self.default()
        candidate = Path(name_or_path)
        if candidate.suffix == ".onnx" or candidate.exists() or os.sep in name_or_path:
            return self._read_path(candidate)
        usable = self.by_name()
        if name_or_path in usable:
            entry = usable[name_or_path]
            if entry.info is None:
                raise ModelRejected(entry.error or f"{name_or_path}: unusable")
            return entry.info
        close = difflib.get_close_matches(name_or_path, list(usable), n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see 'resnet-studio models'"
        raise ModelRejected(f"no model named {name_or_path!r}{hint}")

    def default(self) -> ModelInfo:
        entry = self.by_name().get(DEFAULT_MODEL)
        if entry is not None and entry.info is not None:
            return entry.info
        usable = [e for e in self.entries() if e.info is not None]
        if not usable:
            raise ModelRejected(f"no usable model found (shipped: {shipped_models_dir()}, user: {self.models_dir})")
        return usable[0].info
