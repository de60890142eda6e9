"""The command line: ``resnet-studio`` (``main``), ``predict --ray`` (``cluster``), ``resnet-studio bench``
(``bench``) and the timing children it starts (``ort_timing``).

The top layer: it may import the app (``gui.qt``), the app side, export, models and the core.
"""
