"""Fitting a model's "unlike the training data" warning to a folder of the user's images, in a child
process (``python -m resnet_studio.export.ood_fit --calibrate``): the app never imports torch."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QProcess, Signal

from resnet_studio.core.text import shown

from .child_process import start_child


class CalibrateJob(QObject):
    finished = Signal(list)  # the files now carrying the fitted parameters
    failed = Signal(str)  # one line

    def __init__(self, files: list[Path], folder: str, description: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.files, self.folder, self.description = list(files), folder, description
        self.process = QProcess(self)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)

    def start(self) -> None:
        start_child(self.process, "ood_fit", "--calibrate", self.folder, "--describe", self.description, *self.files)

    def _finished(self, code: int, status) -> None:
        if code == 0 and status == QProcess.ExitStatus.NormalExit:
            self.finished.emit(self.files)
            return
        lines = bytes(self.process.readAllStandardError()).decode("utf-8", "replace").strip().splitlines()
        self.failed.emit(shown(lines[-1] if lines else f"calibration stopped (exit code {code})", 300))

    def _error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.failed.emit("could not start the calibration process")
