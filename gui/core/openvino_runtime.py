"""OpenVINO as the second CPU runtime: it reads the same ONNX bytes (no conversion step, no file written)
and, on CPUs with VNNI, AVX512-BF16 or AMX, runs ResNets two to three times as fast as ONNX Runtime.

Measured on an AMX Xeon (2 cores, ResNet-50, batch 8; ``../shared/field-notes.md``): ORT on our int8
file 99 img/s, OpenVINO on the same file 309, on our fp32 file 187 (in bf16). On this project's AVX2-only
EPYC it was 1.4-1.7x on the shipped resnet20 files and 0.92x on an fp32 ResNet-50, so ``auto`` picks
OpenVINO only where the CPU has those instructions; ``--runtime`` overrides it either way.

A ``Session`` answers ONNX Runtime's ``run(outputs, feeds, options)``: ``options.terminate`` (which the
pool's watchdog sets) cancels the request, so a run past its time limit stops here too.
"""

from __future__ import annotations

import threading

import numpy as np

OPENVINO = "OpenVINO"  # the provider name a handle reports, as ONNX Runtime's are reported
RUNTIMES = ("auto", "onnxruntime", "openvino")
# CPU flags (as /proc/cpuinfo names them) where OpenVINO's int8 and bf16 kernels were measured far ahead.
FAST_FLAGS = ("amx_int8", "amx_bf16", "avx512_bf16", "avx512_vnni", "avx_vnni")
POLL_S = 0.05


def installed() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def choose(requested: str) -> tuple[str, str]:
    """The CPU runtime to use and why, in words: ``requested`` is one of RUNTIMES."""
    if requested not in RUNTIMES:
        raise ValueError(f"unknown runtime {requested!r}: expected {', '.join(RUNTIMES)}")
    if requested == "onnxruntime":
        return "onnxruntime", "ONNX Runtime requested"
    if requested == "openvino":
        if not installed():
            raise ValueError("OpenVINO requested but not installed (pip install openvino)")
        return "openvino", "OpenVINO requested"
    if not installed():
        return "onnxruntime", "OpenVINO is not installed"
    fast = [flag for flag in FAST_FLAGS if flag in cpu_flags()]
    if fast:
        return "openvino", f"this CPU has {fast[0].upper().replace('_', '-')}, where OpenVINO runs fastest"
    return "onnxruntime", "this CPU has no VNNI, AVX512-BF16 or AMX, where OpenVINO would be faster"


class Session:
    """One compiled model and its one infer request (the pool serialises runs)."""

    def __init__(self, data: bytes, threads: int, exact: bool = False) -> None:
        import openvino as ov

        core = ov.Core()
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        if exact:  # on AMX and AVX512-BF16 CPUs, OpenVINO runs fp32 files in bf16 unless told not to
            config["INFERENCE_PRECISION_HINT"] = "f32"
        self.compiled = core.compile_model(core.read_model(model=data), "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.output_names = [port.get_any_name() for port in self.compiled.outputs]
        self._lock = threading.Lock()

    @property
    def arithmetic(self) -> str:
        """What the CPU computes in: f32, or bf16 where OpenVINO chose it."""
        hint = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        if "bf16" in hint or "bfloat16" in hint:
            return "bf16"
        return "f32" if "32" in hint else hint.strip("<>").removeprefix("Type: ").strip("'")

    def get_providers(self) -> list[str]:
        return [OPENVINO]

    def run(self, outputs: list[str] | None, feeds: dict[str, np.ndarray], options=None) -> list[np.ndarray]:
        """ONNX Runtime's ``InferenceSession.run``, stopped when ``options.terminate`` is set."""
        names = outputs or self.output_names
        with self._lock:
            self.request.start_async(feeds)
            while not self.request.wait_for(int(POLL_S * 1000)):
                if options is not None and options.terminate:
                    self.request.cancel()
                    # A cancelled request stays cancelled: the next run gets a new one.
                    self.request = self.compiled.create_infer_request()
                    raise RuntimeError("terminated")
            # Copies: the request's buffers are overwritten by the next run.
            return [np.array(self.request.get_tensor(name).data) for name in names]
