"""The benchmarks' driver: ``resnet-studio bench`` (``run``) and the window as a user feels it
(``app_timing``: time to a shown window, event-loop stalls).

Every case runs on one timing loop and one child-process runner (``core.timing``) and reports
``images_per_second``, ``latency_ms`` and ``runs``. A case that needs torch lives in the layer that
may import it and runs as a child process by module name, so nothing under gui/ imports torch:
``models.eager_timing`` (eager fp32, channels-last, bf16), ``export.random_export`` (the export time)
and ``export.benchmark`` (export, activation outputs and int8 costs). ``core.ort_timing`` times raw
ONNX Runtime sessions. The machine is shared: read the ratios within one run.
"""
