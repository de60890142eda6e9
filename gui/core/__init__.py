"""The foundation every layer stands on, Qt-free and torch-free: the runtime (sessions, engine), the model
file contract and its reader, image intake, and the shared utilities (paths, text, limits, child processes).

It lives in gui/core/ but installs as ``resnet_studio.core``.
"""

# An editable install maps resnet_studio.gui to gui/, so this folder is also reachable as
# the old dotted name: every class would then exist twice, and isinstance would fail across the two.
if __name__ != "resnet_studio.core":
    raise ImportError(f"import resnet_studio.core, not {__name__}")
