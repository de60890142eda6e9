"""``resnet-studio`` with no command: the desktop app. This process never imports torch."""

from __future__ import annotations

import argparse
import sys
from resnet_studio.core.text import first_line


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="resnet-studio", description="See what a residual network does.")
    p.add_argument("images", nargs="*", help="images or folders to classify at start")
    p.add_argument("--model", help="a model name or an .onnx path (default: the last one used, else the "
                                   "shipped resnet20-fashion-mnist)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default: the last one used, else auto")
    p.add_argument("--models-dir", help="user models folder")
    p.add_argument("--settings", help="settings file (INI) instead of the platform's")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from resnet_studio.core.catalog import Catalog, shipped_models_dir
    from .main_window import MainWindow
    from .style import apply_style
    from .window_settings import images_to_open

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("ResNet Studio")
    app.setOrganizationName("ResNet Studio")
    apply_style(app)
    settings = QSettings(args.settings, QSettings.Format.IniFormat) if args.settings else QSettings()
    window = MainWindow(Catalog(args.models_dir), settings, args.device, args.model)
    install_excepthook(window)
    window.show()
    # The first start shows the shipped samples, so there is something real to look at.
    opening = images_to_open(settings, args.images, str(shipped_models_dir() / "samples"))
    if opening:
        window.studio.add_paths(opening)
    settings.setValue("first_run_done", True)
    return app.exec()


def install_excepthook(window) -> None:
    """The backstop: an exception that escapes a slot is shown, not fatal."""
    previous = sys.excepthook

    def hook(kind, value, traceback) -> None:
        previous(kind, value, traceback)
        first = first_line(value)
        window.show_notice(f"internal error: {kind.__name__}: {first}")

    sys.excepthook = hook
