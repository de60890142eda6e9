"""The one exception every export step raises; ``str()`` is a one-line reason for the user."""


class ExportError(Exception):
    pass
