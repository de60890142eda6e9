"""A folder watched for changes that survives the folder being deleted and made again.

QFileSystemWatcher stops watching a folder once it is removed, and never takes it back. So the
nearest existing folder above it is watched too: when that changes and the folder exists again,
it is watched anew and a change is reported, as it would be for a file copied in.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal


class FolderWatch(QObject):
    changed = Signal()  # the folder's content may have changed; debounced

    def __init__(self, folder: Path, parent: QObject | None = None, debounce_ms: int = 400) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self._watcher = QFileSystemWatcher(self)
        self._timer = QTimer(self, singleShot=True, interval=debounce_ms, timeout=self.changed.emit)
        self._watcher.directoryChanged.connect(self._seen)
        self._arm()

    def _ancestor(self) -> Path | None:
        for folder in self.folder.parents:
            if folder.is_dir():
                return folder
        return None

    def _arm(self) -> None:
        """Watch the folder when it exists, and always its nearest existing ancestor."""
        wanted = {str(p) for p in (self.folder if self.folder.is_dir() else None, self._ancestor()) if p is not None}
        watched = set(self._watcher.directories())
        stale = sorted(watched - wanted)
        if stale:
            self._watcher.removePaths(stale)
        missing = sorted(wanted - watched)
        if missing:
            self._watcher.addPaths(missing)

    def watching(self) -> bool:
        return str(self.folder) in self._watcher.directories()

    def _seen(self, path: str) -> None:
        was_watching = self.watching()
        self._arm()
        # A change in the folder itself, or the folder made again where it was gone.
        if path == str(self.folder) or (self.watching() and not was_watching):
            self._timer.start()
