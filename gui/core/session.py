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
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from . import openvino_runtime
from .graph import logits_only_bytes, with_outputs_bytes
from .lesion import LesionError, lesioned_bytes
from .local_file import Rejected
from .model_file import ModelInfo, ModelRejected, checked_bytes
from .text import first_line

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
DEVICES = ("auto", "cpu", "cuda")
CUDA_OPTIONS = {
    "arena_extend_strategy": "kSameAsRequested",
    "gpu_mem_limit": str(int(os.environ.get("RESNET_STUDIO_GPU_MEM_MB", "4096")) * 1024**2),
    "cudnn_conv_algo_search": "HEURISTIC",  # starts fast; EXHAUSTIVE only pays off in long runs
}
# A batch that runs longer than this is stopped (RunOptions.terminate): no model hangs the app or predict.
RUN_TIMEOUT_S = float(os.environ.get("RESNET_STUDIO_RUN_TIMEOUT_S", "60"))


class ProviderError(Exception):
    pass


class RunFailed(Rejected):
    """A model that loaded but failed, was stopped or timed out while running; ``str()`` is one line."""


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
    return cuda_reason(driver_problem(), _provider_library_problem())


def driver_problem(library: str = "libcuda.so.1") -> str | None:
    """Why the NVIDIA driver cannot run CUDA here, or None. libcuda.so.1 is the driver's own
    library: no pip wheel brings it, even where every CUDA and cuDNN wheel is installed."""
    try:
        driver = ctypes.CDLL(library)
    except OSError:
        return "no NVIDIA driver (libcuda.so.1 not found)"
    status = driver.cuInit(0)
    if status == 100:
        return "the NVIDIA driver finds no GPU (cuInit: CUDA_ERROR_NO_DEVICE)"
    if status == 35:
        return "the NVIDIA driver is older than this CUDA (cuInit: CUDA_ERROR_INSUFFICIENT_DRIVER)"
    return f"the NVIDIA driver cannot start CUDA (cuInit error {status})" if status else None


def _provider_library_problem() -> str | None:
    """The first CUDA or cuDNN library that ONNX Runtime's CUDA provider fails to load, or None."""
    library = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if not library.exists():
        return None
    try:
        ctypes.CDLL(str(library))
    except OSError as exc:
        missing = str(exc).split(":")[0]
        return None if missing.startswith("libcuda.so") else missing
    return None


def cuda_reason(driver: str | None, missing_library: str | None) -> str | None:
    """One line that tells a missing driver or GPU from missing CUDA libraries, with the fix for each."""
    parts = []
    if driver:
        parts.append(f"{driver}; install or update the NVIDIA driver (pip cannot)")
    if missing_library:
        parts.append(f"CUDA libraries missing ({missing_library} failed to load); pip install 'resnet-studio[cuda]'")
    return "; and ".join(parts) or None


@dataclass
class SessionHandle:
    session: ort.InferenceSession | openvino_runtime.Session
    provider: str  # the provider that really runs it (CUDAExecutionProvider, CPUExecutionProvider, OpenVINO)
    reason: str | None  # why CUDA is not in use, when it is not
    runtime_note: str = ""  # why this CPU runtime, or why the other one failed; OpenVINO's arithmetic

    @property
    def label(self) -> str:
        """What runs, in a few words: "CUDA", "CPU · ONNX Runtime", "CPU · OpenVINO · bf16"."""
        if self.provider == CUDA:
            return "CUDA"
        if self.provider == openvino_runtime.OPENVINO:
            arithmetic = self.session.arithmetic
            return "CPU · OpenVINO" + (f" · {arithmetic}" if arithmetic != "f32" else "")
        return "CPU · ONNX Runtime"


class SessionPool:
    """Sessions cached per (model file, provider, outputs); one lock serialises all runs."""

    def __init__(self, device: str = "auto", threads: int | None = None, runtime: str = "auto",
                 exact: bool = False) -> None:
        """``runtime``: the CPU runtime (auto, onnxruntime or openvino); ``exact``: fp32 arithmetic on
        fp32 files (OpenVINO's bf16 off)."""
        if device not in DEVICES:
            raise ProviderError(f"unknown device {device!r}: expected auto, cpu or cuda")
        try:
            self.cpu_runtime, self.runtime_reason = openvino_runtime.choose(runtime)
        except ValueError as exc:
            raise ProviderError(str(exc)) from None
        self.exact = exact
        self.device = device
        self.threads = threads or physical_cores()
        self._sessions: dict[tuple, SessionHandle] = {}
        self._lock = threading.Lock()
        self.run_lock = threading.Lock()
        self.timeout_s = RUN_TIMEOUT_S
        self._running: set[ort.RunOptions] = set()
        self._stopped: set[int] = set()  # ids of the runs terminate_all() stopped, to tell them from timeouts
        # One watchdog thread per pool stops runs past their deadline (a timer per run cost 5% on resnet20).
        self._deadlines: dict[ort.RunOptions, float] = {}
        self._watch = threading.Condition()
        self._watchdog: threading.Thread | None = None

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

    def get(self, info: ModelInfo, full: bool = False, cpu_only: bool = False,
            removed: frozenset[str] = frozenset()) -> SessionHandle:
        """The session for ``info``'s checked bytes: a file's identity (path and sha256), never its path alone.

        A session built once keeps running the bytes that were checked, whatever happens to the file
        since; a new one (the activations' full graph, say) is built only from the same bytes again.
        ``removed``: blocks taken out (``core.lesion``), a graph of its own; none gives the intact one.
        """
        key = (str(info.identity.path), info.identity.sha256, full, cpu_only, frozenset(removed))
        with self._lock:
            handle = self._sessions.get(key)
            if handle is None:
                handle = self._create(info, full, cpu_only, frozenset(removed))
                # A replaced file gets new sessions; drop the stale ones.
                self._sessions = {k: v for k, v in self._sessions.items() if k[0] != key[0] or k[1] == key[1]}
                if removed:  # one lesioned graph per file at a time: a sweep over the blocks must not pile up
                    self._sessions = {k: v for k, v in self._sessions.items()
                                      if not k[4] or k[0] != key[0] or k[4] == key[4]}
                self._sessions[key] = handle
            return handle

    def _create(self, info: ModelInfo, full: bool, cpu_only: bool, removed: frozenset[str]) -> SessionHandle:
        try:
            model = checked_bytes(info.identity)
            model = lesioned_bytes(model, info, removed)
        except (ModelRejected, LesionError) as exc:
            raise ProviderError(str(exc)) from None
        providers, reason = ([CPU], "CUDA ran out of memory") if cpu_only else self.provider_plan()
        stripped = info.discovery.stripped_inputs if info.discovery else frozenset()
        try:
            if not full:
                model = logits_only_bytes(model, info.output.name, (info.taps.features,) if info.ood else (),
                                          stripped)
            elif not info.taps.in_file or stripped:  # a foreign file's taps, added in memory
                model = with_outputs_bytes(model, [] if info.taps.in_file else info.taps.tensors(), stripped)
            if providers == [CPU] and self.cpu_runtime == "openvino":
                try:
                    return SessionHandle(openvino_runtime.Session(model, self.threads, self.exact),
                                         openvino_runtime.OPENVINO, reason, self.runtime_reason)
                except Exception as exc:  # noqa: BLE001 - OpenVINO raises its own types; ORT may still run it
                    note = f"OpenVINO cannot compile it ({first_line(exc, 120)}); ONNX Runtime runs it"
            else:
                note = self.runtime_reason if providers == [CPU] else ""
            session = ort.InferenceSession(model, self._options(), providers=providers)
        except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
            raise ProviderError(f"{info.path}: ONNX Runtime cannot load it ({first_line(exc, 160)})") from None
        active = session.get_providers()[0]
        if active != CUDA and reason is None:
            reason = "CUDA provider failed to start (no usable GPU or driver)"
            if self.device == "cuda":
                raise ProviderError(f"CUDA requested but not usable: {reason}")
        return SessionHandle(session, active, reason if active != CUDA else None, note)

    def run(self, info: ModelInfo, feed: np.ndarray, outputs: list[str] | None = None, full: bool = False,
            removed: frozenset[str] = frozenset()):
        """Run once, serialised with every other run; on CUDA out-of-memory, retry on the CPU.

        ``feed`` is [N, C, H, W] float32; it reaches the graph in the layout and type the graph takes. A
        model whose file fixes the batch at 1 runs image by image. Any failure is a ``RunFailed``.
        """
        handle = self.get(info, full, removed=removed)
        try:
            return handle, self._run_chunks(handle, info, feed, outputs)
        except RunFailed as exc:
            if handle.provider != CUDA or "memory" not in str(exc).lower():
                raise
        handle = self.get(info, full, cpu_only=True, removed=removed)
        return handle, self._run_chunks(handle, info, feed, outputs)

    def _run_chunks(self, handle: SessionHandle, info: ModelInfo, feed: np.ndarray, outputs) -> list:
        feed = info.input.feed(feed)
        if not info.input.fixed_batch or len(feed) == info.input.fixed_batch:
            return self._run_once(handle, info, feed, outputs)
        parts = [self._run_once(handle, info, feed[i:i + 1], outputs) for i in range(len(feed))]
        return [np.concatenate(pieces) for pieces in zip(*parts)]

    def _run_once(self, handle: SessionHandle, info: ModelInfo, feed: np.ndarray, outputs) -> list:
        options = ort.RunOptions()
        with self.run_lock:
            self._running.add(options)
            self._watch_run(options)
            try:
                return handle.session.run(outputs, {info.input.name: feed}, options)
            except Exception as exc:  # noqa: BLE001 - ORT raises its own exception types
                if id(options) in self._stopped:
                    raise RunFailed(f"{info.name}: stopped") from None
                if options.terminate:
                    raise RunFailed(f"{info.name}: a batch ran longer than {self.timeout_s:.0f} s and was "
                                    f"stopped") from None
                detail = first_line(exc)
                runtime = "OpenVINO" if handle.provider == openvino_runtime.OPENVINO else "ONNX Runtime"
                raise RunFailed(f"{info.name}: {runtime} failed running it ({detail[:200]})") from None
            finally:
                with self._watch:
                    self._deadlines.pop(options, None)
                self._running.discard(options)
                self._stopped.discard(id(options))

    def _watch_run(self, options: ort.RunOptions) -> None:
        with self._watch:
            self._deadlines[options] = time.monotonic() + self.timeout_s
            if self._watchdog is None:
                self._watchdog = threading.Thread(target=self._watch_deadlines, name="run-watchdog", daemon=True)
                self._watchdog.start()
            self._watch.notify()

    def _watch_deadlines(self) -> None:
        with self._watch:
            while True:
                now = time.monotonic()
                for options, deadline in list(self._deadlines.items()):
                    if deadline <= now:
                        options.terminate = True
                        del self._deadlines[options]
                nearest = min(self._deadlines.values(), default=None)
                self._watch.wait(None if nearest is None else max(nearest - now, 0.001))

    def terminate_all(self) -> None:
        """Stop every run in progress (a model switch, Cancel, or the app closing); each raises ``RunFailed``."""
        for options in list(self._running):
            self._stopped.add(id(options))
            options.terminate = True
