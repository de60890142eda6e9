"""Everything that imports Qt: the window, its widgets, the workers that keep work off the GUI thread,
and the jobs that run torch work in child processes. Nothing outside this package imports PySide6."""
