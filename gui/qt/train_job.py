"""A training run started from the app: ``resnet-studio train --progress-json`` in a child process.

The child checkpoints every epoch into a folder of its own (models_dir/.training/NAME) and exports
fp32 plus int8 there when it ends. Only a finished, verified export is renamed into the models
folder, file by file, each rename atomic. Cancel interrupts the child (SIGINT: it says where the
last good checkpoint is), and Resume starts it again with ``--resume`` from that checkpoint.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from resnet_studio.core.local_file import replace_into
from resnet_studio.core.text import shown
from resnet_studio.gui.viewmodel.train_plan import TRAINING_FOLDER, Base, Recipe, train_arguments
from resnet_studio.gui.viewmodel.train_progress import Progress, parse_line

from .child_process import start_child

STOP_GRACE_MS = 15_000  # after SIGINT the child finishes its step and says so; killed after this


class TrainJob(QObject):
    progressed = Signal(object)  # the Progress, after each event
    landed = Signal(list, dict)  # the model files now in the models folder, and the run's report
    failed = Signal(str)  # one line
    cancelled = Signal(int)  # the last epoch the checkpoint holds (0: none)

    def __init__(self, name: str, base: Base, recipe: Recipe, data: Path, models_dir: Path,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name, self.base, self.recipe, self.data = name, base, recipe, data
        self.models_dir = Path(models_dir)
        self.folder = self.models_dir / TRAINING_FOLDER / name
        self.progress = Progress()
        self._process: QProcess | None = None
        self._buffer = b""
        self._stderr = b""
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._process is not None

    @property
    def checkpoint(self) -> Path:
        return self.folder / "last.pt"

    def start(self, resume: bool = False) -> None:
        try:
            (self.folder / "export").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.failed.emit(f"cannot write to {self.folder} ({exc.strerror or exc})")
            return
        self._buffer, self._stderr, self._stopping = b"", b"", False
        if not resume:
            self.progress = Progress()
        process = QProcess(self)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self._process = process
        start_child(process, "studio", *train_arguments(self.base, self.recipe, self.data, self.folder,
                                                         self._export_path(), resume))

    def _export_path(self) -> Path:
        return self.folder / "export" / f"{self.name}.onnx"

    def _read_stdout(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            event = parse_line(line)
            if event is not None:
                self.progress.take(event)
                self.progressed.emit(self.progress)

    def _read_stderr(self) -> None:
        if self._process is not None:
            self._stderr = (self._stderr + bytes(self._process.readAllStandardError()))[-4000:]

    def _finished(self, code: int, status) -> None:
        self._read_stdout()
        self._process = None
        if self._stopping:
            done = self.progress.rows[-1]["epoch"] if self.progress.rows else 0
            self.progress.stage = "cancelled"
            self.cancelled.emit(done if self.checkpoint.is_file() else 0)
            return
        if code == 0 and self.progress.report is not None:
            self._land()
            return
        if self.progress.error:
            self.failed.emit(self.progress.error)
            return
        lines = [ln for ln in self._stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        self.failed.emit(shown(lines[-1] if lines else f"the training process stopped (exit code {code})", 300))

    def _error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._process = None
            self.failed.emit("could not start the training process")

    def _land(self) -> None:
        """Rename the exported fp32 and int8 files into the models folder, int8 last: the app lists twins
        together, and the pair is complete when the second rename lands."""
        fp32 = self._export_path()
        int8 = fp32.with_name(f"{fp32.stem}-int8.onnx")
        written = []
        try:
            for made in (fp32, int8):
                if made.is_file():
                    written.append(replace_into(made, self.models_dir / made.name))
        except OSError as exc:
            self.failed.emit(f"cannot move the trained model into {self.models_dir} ({exc.strerror or exc})")
            return
        if not written:
            self.failed.emit("the training process ended without writing a model")
            return
        self.landed.emit(written, self.progress.report or {})

    def cancel(self) -> None:
        """Interrupt the child; the checkpoint of the last finished epoch stays for Resume."""
        if self._process is None:
            return
        self._stopping = True
        process = self._process
        pid = process.processId()
        if os.name == "posix" and pid:
            os.kill(pid, signal.SIGINT)
        else:
            process.terminate()
        QTimer.singleShot(STOP_GRACE_MS, process, process.kill)

    def wait(self) -> None:
        """Block until the child has stopped: the kill timer cannot fire while the GUI thread waits here,
        so a child that outlives the grace period is killed from here."""
        if self._process is not None and not self._process.waitForFinished(STOP_GRACE_MS):
            self._process.kill()
            self._process.waitForFinished(5000)
