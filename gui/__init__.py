"""The app side of ResNet Studio: ``viewmodel`` (no Qt), ``qt`` (the window) and ``cli`` (the command line).

``gui/core`` is not part of this package: it installs as ``resnet_studio.core``.
"""
