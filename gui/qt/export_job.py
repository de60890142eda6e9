"""An export started from the app: ``resnet-export`` in a child process, never torch in this one.

The child writes into a private folder inside the models folder and reports its stages as
JSON lines (``--progress-json``). Only when every requested precision has passed its
verification are the files renamed into the models folder, each rename atomic; a cancel or a
failure removes the private folder, so nothing half-made is ever listed.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from resnet_studio.core import children
from resnet_studio.core.local_file import replace_into

from resnet_studio.core.export_protocol import DONE, ERROR, export_file_name, parse_event

from .child_process import start_child

TERMINATE_GRACE_MS = 3000  # SIGTERM lets the child clean up; SIGKILL after this


class ExportJob(QObject):
    """Export ``variant`` with ``weights`` at each of ``precisions``, one child process after another."""

    stage = Signal(str, str, object, object)  # precision, stage, done, total (bytes while downloading)
    finished = Signal(list)  # the paths written into the models folder
    failed = Signal(str, object)  # a one-line reason, and {"url", "cache_path"} when the download failed
    cancelled = Signal()

    def __init__(self, variant: str, weights: str, models_dir: Path, precisions: list[str],
                 calibration: str | None = None, download: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # The stages to expect, in order, so progress can say "step 2 of 4".
        self.steps = [("", "download")] if download else []
        for precision in precisions:
            conversion = {"fp16": ["fp16"], "int8": ["quantize"]}.get(precision, [])
            self.steps += [(precision, stage) for stage in ["build", "export", *conversion, "verify"]]
        self.variant, self.weights, self.models_dir = variant, weights, Path(models_dir)
        self.precisions, self.calibration = list(precisions), calibration
        self._queue = list(precisions)
        self._current = ""
        self._workdir: Path | None = None
        self._process: QProcess | None = None
        self._buffer = b""
        self._stderr = b""
        self._error: tuple[str, object] | None = None
        self._done = False
        self._cancelling = False

    def fraction(self, precision: str, stage: str, done, total) -> tuple[int, float]:
        """(step index, share of all the work done) when ``stage`` of ``precision`` begins or advances."""
        step = self.steps.index((precision, stage)) if (precision, stage) in self.steps else 0
        within = done / total if isinstance(done, int) and isinstance(total, int) and total > 0 else 0.0
        return step, (step + min(within, 1.0)) / max(1, len(self.steps))

    def output_name(self, precision: str) -> str:
        return export_file_name(self.variant, self.weights, precision)

    @property
    def running(self) -> bool:
        return self._process is not None

    def start(self) -> None:
        try:
            self.models_dir.mkdir(parents=True, exist_ok=True)
            self._workdir = Path(tempfile.mkdtemp(prefix=".export-", dir=self.models_dir))
        except OSError as exc:
            self._fail(f"cannot write to {self.models_dir} ({exc.strerror or exc})", None)
            return
        self._next()

    def _next(self) -> None:
        if not self._queue:
            self._install()
            return
        precision = self._queue.pop(0)
        self._current = precision
        self._buffer, self._stderr, self._error, self._done = b"", b"", None, False
        args = [self.variant, "--weights", self.weights, "--precision",
                precision, "--output", str(self._workdir / self.output_name(precision)), "--progress-json"]
        if self.calibration:
            args += ["--calibration", self.calibration]
        process = QProcess(self)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(lambda: self._read_stderr(process))
        process.finished.connect(self._process_finished)
        process.errorOccurred.connect(self._process_error)
        self._process = process
        start_child(process, "export", *args)

    def _read_stdout(self) -> None:
        self._buffer += bytes(self._process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            event = parse_event(line)
            if event is None:
                continue  # a library printing on stdout; only our JSON lines count
            kind = event["stage"]
            if kind == DONE:
                self._done = True
            elif kind == ERROR:
                download = event.get("download") if isinstance(event.get("download"), dict) else None
                self._error = (str(event.get("message", "export failed")), download)
            else:
                self.stage.emit("" if kind == "download" else self._current, kind, event.get("done"),
                                event.get("total"))

    def _read_stderr(self, process: QProcess) -> None:
        self._stderr = (self._stderr + bytes(process.readAllStandardError()))[-4000:]

    def _process_finished(self, code: int, status) -> None:
        self._read_stdout()
        self._process = None
        if self._cancelling:
            self._cleanup()
            self.cancelled.emit()
            return
        if code == 0 and self._done:
            self._next()
            return
        if self._error is None:
            lines = [ln for ln in self._stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
            self._error = (lines[-1] if lines else f"resnet-export stopped (exit code {code})", None)
        self._fail(*self._error)

    def _process_error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._process = None
            self._fail(f"cannot start resnet-export ({' '.join(children.argv('export')[:4])})", None)

    def _install(self) -> None:
        """Rename each verified file into the models folder (atomic within one file system)."""
        written = []
        try:
            for precision in self.precisions:
                target = self.models_dir / self.output_name(precision)
                replace_into(self._workdir / self.output_name(precision), target)
                written.append(target)
        except OSError as exc:
            self._fail(f"cannot move the export into {self.models_dir} ({exc.strerror or exc})", None)
            return
        self._cleanup()
        self.finished.emit(written)

    def cancel(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after a grace period) and remove everything it wrote."""
        if self._process is None:
            return
        self._cancelling = True
        process = self._process
        process.terminate()
        # With the process as context, the timer dies with it; killing an ended process does nothing.
        QTimer.singleShot(TERMINATE_GRACE_MS, process, process.kill)

    def wait(self, msecs: int = 10_000) -> None:
        """Block until the child has ended; for closing the app."""
        if self._process is not None:
            self._process.waitForFinished(msecs)

    def _fail(self, message: str, download) -> None:
        self._cleanup()
        self.failed.emit(message, download)

    def _cleanup(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
