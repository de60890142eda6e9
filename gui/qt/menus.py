"""The main window's menu bar: every command with its shortcut, and the device and precision choices."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMessageBox

from resnet_studio.core import openvino_runtime
from resnet_studio.core.presets import PRESETS

TABS = ("Predictions", "Activations", "Structure", "Why residual?", "Train")
PRECISION_CHOICES = ("auto", "fp32", "fp16", "int8")


def about() -> str:
    """The versions a bug report needs: the app's and those of the runtimes it runs on."""
    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    packages = ("resnet-studio", "onnxruntime-gpu", "onnxruntime", "openvino", "onnx", "PySide6-Essentials",
                "numpy", "pillow")
    lines = [f"{name}: {installed(name)}" for name in packages]
    return ("See what a residual network does: predictions, activations, F(x), class activation maps and the "
            "block structure of any ResNet ONNX file.\n\n" + "\n".join(lines))


class Menus(QObject):
    """Built on ``window`` (a MainWindow); its commands are the controller's. Keeps the actions the toolbar
    and the settings need.

    No Python reference back to the window (see ``ModelActions``): actions are parented to it in Qt.
    """

    def __init__(self, window, controller) -> None:
        super().__init__(window)
        self.studio = studio = window.studio
        bar = window.menuBar()
        files = bar.addMenu("&File")
        self.open = self._action(files, "&Open images…", QKeySequence.StandardKey.Open, controller.open_files)
        self.folder = self._action(files, "Open &folder…", "Ctrl+Shift+O", controller.open_folder)
        self._action(files, "Open &model file…", "Ctrl+M", controller.open_model)
        self.paste = self._action(files, "&Paste image", QKeySequence.StandardKey.Paste, controller.paste)
        self._action(files, "Open &sample images", None, controller.open_samples)
        self.clear = self._action(files, "&Clear images", "Ctrl+Shift+Backspace", controller.clear_images)
        self._action(files, "&Export results…", "Ctrl+E", controller.export_results)
        files.addSeparator()
        self.reopen = QAction("&Reopen these images next time", window)
        self.reopen.setCheckable(True)
        files.addAction(self.reopen)
        files.addSeparator()
        self._action(files, "&Quit", QKeySequence.StandardKey.Quit, window.close)
        view = bar.addMenu("&View")
        self._action(view, "&Next image", "Ctrl+Down", lambda: controller.step(1))
        self._action(view, "&Previous image", "Ctrl+Up", lambda: controller.step(-1))
        for index, title in enumerate(TABS):
            self._action(view, f"Show {title.lower()}", f"Ctrl+{index + 1}",
                         lambda i=index: window.tabs.setCurrentIndex(i))
        devices = view.addMenu("&Device")
        self.device: dict[str, QAction] = {}
        for device in ("auto", "cpu", "cuda"):
            action = self._action(devices, device, None, lambda d=device: self.set_device(d))
            action.setCheckable(True)
            action.setChecked(device == studio.device)
            self.device[device] = action
        runtimes = view.addMenu("CPU &runtime")
        group = QActionGroup(self)
        self.runtime: dict[str, QAction] = {}
        for runtime, text in (("auto", "auto (OpenVINO where this CPU runs it fastest)"),
                              ("onnxruntime", "ONNX Runtime"), ("openvino", "OpenVINO")):
            action = self._action(runtimes, text, None, lambda r=runtime: studio.set_runtime(r))
            action.setCheckable(True)
            action.setChecked(runtime == "auto")
            action.setEnabled(runtime != "openvino" or openvino_runtime.installed())
            group.addAction(action)
            self.runtime[runtime] = action
        precisions = view.addMenu("P&recision")
        group = QActionGroup(self)
        self.precision: dict[str, QAction] = {}
        for precision in PRECISION_CHOICES:
            text = "auto (int8 on the CPU, fp16 on CUDA, when the model has them)" if precision == "auto" else precision
            action = self._action(precisions, text, None, lambda p=precision: studio.set_precision(p))
            action.setCheckable(True)
            group.addAction(action)
            self.precision[precision] = action
        models = bar.addMenu("&Models")
        self._action(models, "&Choose model…", "Ctrl+Shift+M", window.picker.open_popup)
        self._action(models, "&Refresh models folder", QKeySequence.StandardKey.Refresh, studio.refresh_models)
        self._action(models, "&Show models folder", None,
                     lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(window.catalog.models_dir))))
        # A file another tool wrote does not say how its images were prepared: the user picks the convention.
        self.presets_menu = models.addMenu("&Preprocessing of this file")
        presets = QActionGroup(self)
        self.preset: dict[str, QAction] = {}
        for name, preset in PRESETS.items():
            action = self._action(self.presets_menu, preset.title, None, lambda n=name: studio.set_preset(n))
            action.setCheckable(True)
            presets.addAction(action)
            self.preset[name] = action
        self.presets_menu.setEnabled(False)
        self.adopt = self._action(models, "Save as &self-describing…", None, controller.actions.save_self_describing)
        self.adopt.setEnabled(False)
        self._help(window)

    def _help(self, window) -> None:
        help_menu = window.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", "F1", lambda: self._tell(window, "Keyboard shortcuts", "\n".join(
            f"{a.shortcut().toString(QKeySequence.SequenceFormat.NativeText):<22} {a.text().replace('&', '')}"
            for a in window.findChildren(QAction) if not a.shortcut().isEmpty())))
        self._action(help_menu, "&About ResNet Studio", None, lambda: self._tell(window, "About ResNet Studio", about()))

    @staticmethod
    def _tell(window, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, window)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()

    def _action(self, menu, text, shortcut, slot) -> QAction:
        action = QAction(text, self.parent())
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        # triggered(bool) passes "checked": a command that takes an argument must never receive it.
        action.triggered.connect(lambda checked=False: slot())
        menu.addAction(action)
        return action

    def show_preset(self, info) -> None:
        """Check the preset the model is read with; only a file without our metadata has one to choose."""
        chosen = info.discovery.preset if info.discovery else None
        self.presets_menu.setEnabled(chosen is not None)
        self.adopt.setEnabled(chosen is not None)
        self.presets_menu.setTitle("&Preprocessing of this file" + (" (guessed)" if info.discovery and
                                                                    info.discovery.preset_guessed else ""))
        for name, action in self.preset.items():
            action.setChecked(name == chosen)

    def set_device(self, device: str) -> None:
        for name, action in self.device.items():
            action.setChecked(name == device)
        self.studio.set_device(device)
