"""ONNX Runtime sessions: CUDA first when it is really usable, else the CPU, and always say why.

``onnxruntime-gpu`` lists the CUDA provider even when its libraries cannot load; the
session then silently runs on the CPU. So the provider a session really got is read
back with ``get_providers()``, and the reason is found by loading the provider
library ourselves, which names the missing dependency.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from .graph import logits_only_bytes
from .model_file import ModelInfo

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")
CUDA_OPTIONS = {
    "arena_extend_strategy": "kSameAsRequested",
    "gpu_mem_limit": str(int(os.environ.get("RESNET_STUDIO_GPU_MEM_MB", "4096")) * 1024**2),
    "cudnn_conv_algo_search": "HEURISTIC",  # starts fast; EXHAUSTIVE only pays off in long runs
}


class ProviderError(Exception):
    pass


def physical_cores() -> int:
    """Physical cores, not hyper-threads: ORT's intra-op pool gains nothing from siblings."""
    try:
        pairs = set()
        physical = core = None
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "physical id":
                    physical = value.strip()
                elif key == "core id":
                    core = value.strip()
                    pairs.add((physical, core))
        if pairs:
            return len(pairs)
    except OSError:
        pass
    return os.cpu_count() or 1


_cuda_probe: str | None | bool = False  # False: not probed yet; None: usable; str: why not
_probe_lock = threading.Lock()


def cuda_unavailable_reason() -> str | None:
    """None when the CUDA provider can load here; else a one-line reason. Probed once per process."""
    global _cuda_probe
    with _probe_lock:
        if _cuda_probe is False:
            _cuda_probe = _probe_cuda()
        return _cuda_probe


def _probe_cuda() -> str | None:
    if CUDA not in ort.get_available_providers():
        return "this onnxruntime build has no CUDA provider (install onnxruntime-gpu)"
    if hasattr(ort, "preload_dlls"):
        try:
            # Finds CUDA and cuDNN in the pip nvidia-* wheels or a CUDA build of torch. It prints
            # each library it misses; the load below turns that into one reason.
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                ort.preload_dlls(directory="")
        except Exception:  # noqa: BLE001 - a failed preload is diagnosed by the load below
            pass
    library = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if library.exists():
        try:
            ctypes.CDLL(str(library))
        except OSError as exc:
            missing = str(exc).split(":")[0]
            return f"CUDA libraries not found ({missing} failed to load; pip install 'onnxruntime-gpu[cuda,cudnn]')"
    return None


@dataclass
class SessionHandle:
    session: ort.InferenceSession
    provider: str  # the provider that really runs it
    reason: str | None  # why CUDA is not in use, when it is not
    full: bool  # True: every output; False: pruned to logits


class SessionPool:
    """Sessions cached per (model file, provider, outputs); one lock serialises all runs."""

    def __init__(self, device: str = "auto", threads: int | None = None) -> None:
        if device not in DEVICES:
            raise ProviderError(f"unknown device {device!r}: expected auto, cpu or cuda")
        self.device = device
        self.threads = threads or physical_cores()
        self._sessions: dict[tuple, SessionHandle] = {}
        self._lock = threading.Lock()
        self.run_lock = threading.Lock()

    def provider_plan(self) -> tuple[list, str | None]:
        """Providers to ask for, and why CUDA is left out when it is."""
        if self.device == "cpu":
            return [CPU], "CPU requested"
        reason = cuda_unavailable_reason()
        if reason:
            if self.device == "cuda":
                raise ProviderError(f"CUDA requested but not usable: {reason}")
            return [CPU], reason
        return [(CUDA, CUDA_OPTIONS), CPU], None

    def _options(self) -> ort.SessionOptions:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads
        # An idle desktop app must not keep a core spinning.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3
        return options

    def get(self, info: ModelInfo, full: bool = False, cpu_only: bool = False) -> SessionHandle:
        try:
            stat = info.path.stat()
        except OSError:
            # Deleted (or unreadable) since it was loaded: the session in memory still works.
            with self._lock:
                for key, handle in self._sessions.items():
                    if key[0] == str(info.path) and key[3:] == (full, cpu_only):
                        return handle
            raise ProviderError(f"{info.path}: the model file is gone and was not loaded before") from None
        key = (str(info.path), stat.st_mtime_ns, stat.st_size, full, cpu_only)
        with self._lock:
            handle = self._sessions.get(key)
            if handle is None:
                handle = self._create(info, full, cpu_only)
                # A replaced file gets new sessions; drop the stale ones.
                self._sessions = {k: v for k, v in self._sessions.items() if k[0] != key[0] or k[1:3] == key[1:3]}
                self._sessions[key] = handle
            return handle

    def _create(self, info: ModelInfo, full: bool, cpu_only: bool) -> SessionHandle:
        with open(info.path, "rb") as f:
            model = f.read()
        providers, reason = ([CPU], "CUDA ran out of memory") if cpu_only else self.provider_plan()
        try:
            if not full:
                model = logits_only_bytes(model, info.logits_name)
            session = ort.InferenceSession(model, self._options(), providers=providers)
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ProviderError(f"{info.path}: ONNX Runtime cannot load it ({detail[:160]})") from None
        active = session.get_providers()[0]
        if active != CUDA and reason is None:
            reason = "CUDA provider failed to start (no usable GPU or driver)"
            if self.device == "cuda":
                raise ProviderError(f"CUDA requested but not usable: {reason}")
        return SessionHandle(session, active, reason if active != CUDA else None, full)

    def run(self, info: ModelInfo, feed, outputs: list[str] | None = None, full: bool = False):
        """Run once, serialised with every other run; on CUDA out-of-memory, retry on the CPU."""
        handle = self.get(info, full)
        with self.run_lock:
            try:
                return handle, handle.session.run(outputs, {info.input_name: feed})
            except Exception as exc:  # noqa: BLE001
                if handle.provider != CUDA or "memory" not in str(exc).lower():
                    raise
        handle = self.get(info, full, cpu_only=True)
        with self.run_lock:
            return handle, handle.session.run(outputs, {info.input_name: feed})
