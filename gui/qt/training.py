"""What the Train panel starts: gathering the classes, the training child process, landing its model,
and evaluating a labelled folder (or the run's held-out split) off the GUI thread."""

from __future__ import annotations

import copy
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from resnet_studio.core.catalog import Catalog
from resnet_studio.core.text import shown
from resnet_studio.gui.viewmodel import lineup
from resnet_studio.gui.viewmodel.train_plan import ClassSet, PlanRejected, bases, run_name

from .file_dialogs import IMAGE_FILTER
from .state import Studio
from .train_job import TrainJob
from .widgets.train_panel import TrainPanel
from .workers import Worker


HELD_OUT = "its held-out images"


class TrainActions(QObject):
    """Owned by the window through Qt's parent link only (see ``ModelActions``)."""

    notice = Signal(str)
    landed = Signal(object)  # the path of the trained model: it becomes active once it is listed
    image_opened = Signal(str)

    def __init__(self, window: QWidget, studio: Studio, catalog: Catalog, panel: TrainPanel, dialogs) -> None:
        super().__init__(window)
        self.studio, self.catalog, self.panel, self.dialogs = studio, catalog, panel, dialogs
        self.classes = ClassSet()
        self.job: TrainJob | None = None
        self._done = ""  # what the last finished run said, shown again once its evaluation is in
        for signal, slot in ((panel.folder_chosen, self.take_folder), (panel.open_folder_requested, self._choose_folder),
                             (panel.add_class_requested, self._add_class),
                             (panel.add_images_requested, self._choose_images),
                             (panel.remove_class_requested, self._remove_class),
                             (panel.classes.images_dropped, self.add_images), (panel.classes.notice, self.notice),
                             (panel.train_requested, self.train), (panel.cancel_requested, self.cancel),
                             (panel.resume_requested, self.resume), (panel.evaluate_requested, self._choose_evaluation),
                             (panel.evaluation.image_opened, self.image_opened), (panel.base_changed, self._recipe_changed)):
            signal.connect(slot)

    def models_listed(self, offers: list[lineup.Offer]) -> None:
        """The picker's models changed: offer them (and the variants) as bases, keeping the choice."""
        self.panel.set_bases(bases(offers))

    # Classes ------------------------------------------------------------------------------------------------

    def _choose_folder(self) -> None:
        folder = self.dialogs.folder_path("A folder with one subfolder of images per class")
        if folder:
            self.take_folder(folder)

    def take_folder(self, folder: str) -> None:
        def work(emit, cancelled):
            emit(ClassSet.from_folder(folder))

        self._run(work, self._classes_read, f"reading the classes in {Path(folder).name}…")

    def _choose_images(self, name: str) -> None:
        paths = self.dialogs.open_paths(f"Images of {name}", IMAGE_FILTER)
        if paths:
            self.add_images(name, paths)

    def add_images(self, name: str, paths: list[str]) -> None:
        classes = copy.deepcopy(self.classes)  # the worker's own: the panel keeps reading this one

        def work(emit, cancelled):
            classes.add_images(name, paths)
            emit(classes)

        self._run(work, self._classes_read, f"adding images to {name}…")

    def _add_class(self, name: str) -> None:
        try:
            self.classes.add_class(name)
        except PlanRejected as exc:
            self.notice.emit(str(exc))
        self._classes_read(self.classes)

    def _remove_class(self, name: str) -> None:
        self.classes.remove_class(name)
        self._classes_read(self.classes)

    def _classes_read(self, classes: ClassSet) -> None:
        self.classes = classes
        self.panel.show_classes(classes)
        self.panel.say(classes.readiness())
        self._recipe_changed()

    def _recipe_changed(self) -> None:
        """Other classes or another base: the base's note and warning again, and no last-run lines."""
        if not self.running:  # the last run's batch and validation lines describe other classes or another base
            self.panel.chosen.clear()
            self.panel.validation.clear()
        base = self.panel.chosen_base()
        if base is not None:
            images = sum(len(c.images) for c in self.classes.classes)
            lines = (base.note, base.warning(images, self.panel.frozen.isChecked()))
            self.panel.base_note.setText("\n".join(shown(t, 300) for t in lines if t))

    # Training -----------------------------------------------------------------------------------------------

    def train(self) -> None:
        refusals, _ = self.classes.problems()
        base = self.panel.chosen_base()
        if refusals or base is None:
            self.notice.emit(refusals[0] if refusals else "choose a base model first")
            self.panel.say(refusals[0] if refusals else "choose a base model first")
            return
        models_dir = self.catalog.models_dir
        dataset = self.classes.folder.name if self.classes.folder is not None else "my-classes"
        name = run_name(base.variant, dataset, models_dir)
        classes, recipe = self.classes, self.panel.recipe()

        def work(emit, cancelled):
            emit(classes.stage(models_dir, name))

        def staged(data: Path) -> None:
            self.job = TrainJob(name, base, recipe, data, models_dir, self)
            self.job.progressed.connect(self.panel.show_progress)
            self.job.landed.connect(self._landed)
            self.job.failed.connect(self._failed)
            self.job.cancelled.connect(self._cancelled)
            self.panel.views.setCurrentWidget(self.panel.charts)
            self.panel.show_progress(self.job.progress)
            self.job.start()

        self.panel.set_running(True, False)
        self._run(work, staged, "copying the classes for training…", failed=self._failed)

    def resume(self) -> None:
        if self.job is not None and not self.job.running and self.job.checkpoint.is_file():
            self.panel.set_running(True, False)
            self.panel.say("resuming from the last checkpoint…")
            self.job.start(resume=True)

    def cancel(self) -> None:
        if self.job is not None and self.job.running:
            self.panel.say("cancelling: the current step finishes first…")
            self.job.cancel()

    def _cancelled(self, epoch: int) -> None:
        self.panel.set_running(False, epoch > 0)
        self.panel.say(f"cancelled; the checkpoint after epoch {epoch} is kept, and Resume continues from it"
                       if epoch else "cancelled before the first epoch ended; nothing to resume")

    def _failed(self, message: str) -> None:
        self.panel.set_running(False, self.job is not None and self.job.checkpoint.is_file())
        self.panel.say(f"training stopped: {message}")
        self.notice.emit(f"training stopped: {message}")

    def _landed(self, paths: list[Path], report: dict) -> None:
        self.panel.set_running(False, False)
        self._done = shown(f"done: {', '.join(p.name for p in paths)} added to the models and made active", 300)
        self.panel.say(self._done)
        self.landed.emit(paths[0])
        held_out = [(str(p), int(c)) for p, c in report.get("held_out", []) if isinstance(p, str)]
        if held_out:
            self._evaluate(paths[-1], held_out, HELD_OUT)

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def stop(self) -> None:
        """On closing: a running training is interrupted (its last checkpoint kept) and waited for."""
        if self.running:
            self.job.cancel()
            self.job.wait()

    def may_close(self, parent: QWidget) -> bool:
        """Ask before closing while training; stopping keeps the last epoch's checkpoint."""
        if not self.running:
            return True
        answer = QMessageBox.question(parent, "Training is running",
                                      "A model is training. Stop it and close? The checkpoint of the last finished "
                                      "epoch is kept.", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.job.cancel()
        self.job.wait()
        return True

    # Evaluation ---------------------------------------------------------------------------------------------

    def _choose_evaluation(self) -> None:
        info = self.studio.info
        if info is None:
            self.notice.emit("load a model first")
            return
        folder = self.dialogs.folder_path(f"A labelled folder for {info.name}: one subfolder per class, named as "
                                          f"its labels")
        if folder:
            self.evaluate_folder(folder)

    def evaluate_folder(self, folder: str) -> None:
        info, engine = self.studio.info, self._whole_network()

        def work(emit, cancelled):
            from resnet_studio.core.evaluation import evaluate

            emit(evaluate(engine, info, folder))

        self._run(work, lambda report: self._evaluated(report, Path(folder).name), f"evaluating {info.name}…")

    def _evaluate(self, path: Path, found: list[tuple[str, int]], what: str) -> None:
        engine = self._whole_network()

        def work(emit, cancelled):
            from resnet_studio.core.evaluation import report, score_files
            from resnet_studio.core.model_file import read_model

            info = read_model(path)
            emit(report(info, what, *score_files(engine, info, found)))

        self._run(work, lambda result: self._evaluated(result, what), "evaluating the held-out images…")

    def _whole_network(self):
        """An engine on the app's sessions without the Lesion tab's removals: an evaluation scores the model
        as it is on disk."""
        from resnet_studio.core.engine import Engine

        return Engine(self.studio.engine.pool)

    def _evaluated(self, report: dict, what: str) -> None:
        self.panel.say(self._done if what == HELD_OUT else f"evaluated {report['model']} on {what}")
        self.panel.evaluation.show_report(report, what)
        self.panel.views.setCurrentWidget(self.panel.evaluation)

    def _run(self, work, done, message: str, failed=None) -> None:
        worker = Worker(work)
        worker.signals.result.connect(done)
        worker.signals.error.connect(failed or self._work_failed)
        self.panel.say(message)
        self.studio.start(worker)

    def _work_failed(self, reason: str) -> None:
        # The panel's status must not keep saying "reading…" once the work has stopped.
        self.panel.say(reason)
        self.notice.emit(reason)
