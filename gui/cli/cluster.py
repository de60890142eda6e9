"""``resnet-studio predict --ray``: the core's decode and classify steps, run on a Ray cluster.

Ray Data streams the file paths through two stages: ``map_batches`` tasks decode and preprocess
(the core's ``decode`` and ``to_input``), and an actor pool of ONNX Runtime sessions (one per GPU,
or one per CPU with one thread each) classifies. Where both stages ask for the same resources (CPU
workers) Ray fuses them, so each actor decodes its own batches. Results come back in input order.
Every node reads the images and the model file by path, so they must sit at the same path on
each node (shared storage); on one machine that is always so.
"""

from __future__ import annotations

import json
import contextlib
import logging
import os
import socket
import sys
import threading
from typing import Iterator

import numpy as np

from resnet_studio.core.engine import Engine, Result, read_input
from resnet_studio.core.contract_parts import Preprocess
from resnet_studio.core.model_file import ModelInfo, read_model
from resnet_studio.core.session import SessionPool
from resnet_studio.core.text import first_line

INSTALL = "pip install 'resnet-studio[cluster]' (or: pip install 'ray[data]')"


class ClusterError(Exception):
    """Why the Ray run cannot start; ``str()`` is one line."""


def decode_batch(batch: dict[str, np.ndarray], preprocess: Preprocess) -> dict[str, np.ndarray]:
    """Paths to model inputs; a file that cannot be read gets zeros and its reason."""
    blank = np.zeros((preprocess.channels, preprocess.crop, preprocess.crop), np.float32)
    read = [read_input(preprocess, str(path)) for path in batch["path"]]
    return {"path": batch["path"], "input": np.stack([blank if array is None else array for array, _, _ in read]),
            "error": np.array([error or "" for _, error, _ in read], dtype=object),
            "decode_ms": np.array([ms for _, _, ms in read])}


class Classifier:
    """One ONNX Runtime session in a Ray actor; each call classifies one batch of decoded images."""

    def __init__(self, model_path: str, device: str, threads: int, k: int, runtime: str = "auto") -> None:
        self.info: ModelInfo = read_model(model_path)
        self.engine = Engine(SessionPool(device, threads=threads, runtime=runtime))
        self.k = k

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        sources = [str(p) for p in batch["path"]]
        good = [i for i, error in enumerate(batch["error"]) if not error]
        results: list[Result | None] = [None] * len(sources)
        if good:
            classified = self.engine.classify_arrays(self.info, batch["input"][good], [sources[i] for i in good], self.k)
            for i, result in zip(good, classified):
                results[i] = result
        for i, error in enumerate(batch["error"]):
            if error:
                results[i] = Result.failure(self.info, sources[i], str(error))
        for result, decode_ms in zip(results, batch["decode_ms"]):
            result.decode_ms = float(decode_ms)
        return {"result": np.array([json.dumps(r.to_json()) for r in results], dtype=object)}


CONNECT_TIMEOUT_S = 5.0
# A new local cluster starts in about 8 s here; RESNET_STUDIO_RAY_CONNECT_S sets another bound.
CONNECT_DEADLINE_S = float(os.environ.get("RESNET_STUDIO_RAY_CONNECT_S", "30"))
RAY_CLIENT_PORT, GCS_PORT = 10001, 6379


def probe(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Reach ``address`` (``host:port`` or ``ray://host[:port]``) within ``timeout`` seconds, or say why not.

    ``ray.init`` retries an address where nothing listens for most of a minute and logs each try on
    stderr; one TCP connection answers the same question in at most ``timeout`` seconds. ``auto`` and
    ``local`` name no host and are left to Ray, which answers those at once.
    """
    if address in ("auto", "local"):
        return
    client = address.startswith("ray://")
    hostport = address.removeprefix("ray://").split("/", 1)[0]
    host, _, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    try:
        number = int(port) if port else (RAY_CLIENT_PORT if client else GCS_PORT)
    except ValueError:
        raise ClusterError(f"--ray {address}: {port!r} is not a port number") from None
    try:
        socket.create_connection((host.strip("[]") or "localhost", number), timeout=timeout).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or first_line(exc)).lower()
        raise ClusterError(f"no Ray cluster answers at {host or 'localhost'}:{number} ({reason} within "
                           f"{timeout:.0f} s)") from None


def connect(ray, address: str | None, deadline: float = CONNECT_DEADLINE_S) -> None:
    """``ray.init``: a new local cluster (``address`` None), or the one at ``address`` within ``deadline``
    seconds, with Ray's own log lines kept off the user's terminal meanwhile.

    Something that accepts connections but is no Ray head keeps ``ray.init`` retrying for minutes, so
    joining runs in a thread and the run ends with one line when the deadline passes. A new local
    cluster starts on this thread: its processes end with the thread that spawned them (Linux's
    parent-death signal follows the thread).
    """
    outcome: list[BaseException | None] = []

    def start() -> None:
        try:
            ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome.append(exc)

    where = address or "a new local one"
    with _quiet_stderr():
        if address is None:
            start()
        else:
            thread = threading.Thread(target=start, name="ray-init", daemon=True)
            thread.start()
            thread.join(deadline)
    if not outcome:
        raise ClusterError(f"the Ray cluster at {where} did not answer within {deadline:.0f} s (something listens "
                           f"there, but not a Ray head node)")
    if outcome[0] is not None:
        raise ClusterError(f"cannot reach the Ray cluster at {where}: {first_line(outcome[0])}")


@contextlib.contextmanager
def _quiet_stderr():
    """Ray's C++ core writes its retries straight to file descriptor 2; send them to /dev/null meanwhile."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as sink:
            os.dup2(sink.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def classify(info: ModelInfo, paths: list[str], address: str | None, k: int, batch_size: int, device: str,
             workers: int | None = None, runtime: str = "auto") -> Iterator[Result]:
    """Results for ``paths`` in their order, computed on the cluster at ``address`` (None: a local one)."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ClusterError(f"--ray needs Ray Data: {INSTALL}") from None
    for name in ("ray", "ray.data"):  # Ray's own progress lines would bury the one-line summary
        logging.getLogger(name).setLevel(logging.ERROR)
    if address:
        probe(address)
    connect(ray, address)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0)) if device != "cpu" else 0
        if device == "cuda" and not gpus:
            raise ClusterError("--device cuda: the Ray cluster has no GPU")
        # On CPUs Ray fuses the decoding into the actors, so one actor per CPU keeps every core busy
        # (2 cores here: 2 actors ran 1.35x the images per second of 1).
        pool = workers or (gpus if gpus else max(1, int(resources.get("CPU", 1))))
        dataset = ray.data.from_items([{"path": p} for p in paths],
                                      override_num_blocks=max(1, min(len(paths) // batch_size, 64 * pool)))
        dataset = dataset.map_batches(decode_batch, fn_kwargs={"preprocess": info.preprocess},
                                      batch_size=batch_size, batch_format="numpy")
        dataset = dataset.map_batches(Classifier, fn_constructor_kwargs={
            "model_path": str(info.path), "device": "cuda" if gpus else device, "threads": 1, "k": k,
            "runtime": runtime},
            batch_size=batch_size, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=pool),
            num_gpus=1 if gpus else 0, num_cpus=0 if gpus else 1)
        try:
            for row in dataset.iter_rows():
                yield Result.from_json(json.loads(row["result"]))
        except ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None) or exc
            raise ClusterError(f"a Ray worker failed: {first_line(cause)}") from None
    finally:
        ray.shutdown()
