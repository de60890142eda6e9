"""Every benchmark, one timing loop (``core.timing.timed``) and one child-process runner (``run_case``).

- ``run``: ``resnet-studio bench``, the table in the README: raw ONNX Runtime session, the core,
  photos to results (the ``predict`` pipeline), a 12 MP JPEG, the app's own path, and PyTorch eager
  (fp32, channels-last, bf16 autocast), plus the export time for a variant;
- ``eager``: the PyTorch cases, each in a child process so that torch never shares one with ONNX Runtime;
- ``export`` and ``ort_outputs``: how long an export takes, and what activation outputs and int8 cost;
- ``app_timing``: the window as a user feels it (time to a shown window, event-loop stalls).

Every case reports ``images_per_second``, ``latency_ms`` and ``runs``; the machine is shared, so
read the ratios within one run.
"""
