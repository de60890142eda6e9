"""``resnet-export adopt``: a file another tool wrote, made self-describing. What the app finds in its graph
(``core.foreign``) is written into a copy as our metadata: the architecture (marked found), the preset
or custom preprocessing, the labels, how the graph takes and gives tensors, and the taps added as graph
outputs, with the classifier's weights as float32 initializers for the CAM. The copy is checked against
the original on sample inputs before it replaces anything, and written atomically. Needs no torch."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np

from resnet_studio.core.contract_parts import Preprocess, Weights
from resnet_studio.core.file_contract import FILE_SCHEMA
from resnet_studio.core.graph import with_outputs_bytes
from resnet_studio.core.local_file import atomic_path, writable_target
from resnet_studio.core.model_file import ModelRejected, checked_bytes, read_model
from resnet_studio.core.model_io import GraphIO

from .errors import ExportError

CLASSIFIER = ("resnet_studio.fc.weight", "resnet_studio.fc.bias")  # added initializers, read by the CAM only
SAMPLES = 4


def adopt(source: Path, output: Path, preset: str | Preprocess | None = None, labels_file: Path | None = None,
          version: str = "unknown") -> dict:
    """Write ``output``, the self-describing copy of ``source``; returns what was written and checked."""
    import onnx
    from onnx import numpy_helper

    writable_target(output)
    try:
        info = read_model(source, preset, labels_file)
    except ModelRejected as exc:
        raise ExportError(str(exc)) from None
    if info.has_metadata:
        raise ExportError(f"{source} describes itself already; nothing to adopt")
    data = checked_bytes(info.identity)
    model = onnx.load_model_from_string(with_outputs_bytes(data, info.taps.tensors(), info.discovery.stripped_inputs))
    taps = dataclasses.replace(info.taps, in_file=True)
    if info.classifier is not None:
        weight, bias = info.classifier
        model.graph.initializer.extend([numpy_helper.from_array(weight, CLASSIFIER[0]),
                                        numpy_helper.from_array(bias, CLASSIFIER[1])])
        taps = dataclasses.replace(taps, fc_weight=CLASSIFIER[0], fc_bias=CLASSIFIER[1])
    meta = dataclasses.replace(
        info.meta, schema=FILE_SCHEMA, taps=taps, io=GraphIO(info.input.layout, info.output.name, info.output.kind),
        weights=Weights("file", None, source.name, info.identity.sha256),
        producer={"name": "resnet-studio adopt", "version": version, "preset": info.discovery.preset,
                  "notes": info.discovery.notes})
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, meta.to_props())
    written = model.SerializeToString()
    with atomic_path(output) as tmp:
        tmp.write_bytes(written)
        adopted = read_model(tmp)
        difference = _largest_difference(info, adopted)
        if difference > 1e-5 or not adopted.has_metadata or adopted.taps.blocks() != info.taps.blocks():
            raise ExportError(f"the adopted copy does not run as the original (largest difference {difference:.3g}); "
                              f"nothing written")
    return {"from": str(source), "to": str(output), "sha256": hashlib.sha256(written).hexdigest(),
            "blocks": len(info.taps.blocks()), "preset": info.discovery.preset, "largest_difference": difference}


def _largest_difference(original, adopted) -> float:
    """Class outputs of the two files on the same random inputs, through the app's own sessions."""
    from resnet_studio.core.session import SessionPool

    pool = SessionPool("cpu", runtime="onnxruntime")
    shape = (SAMPLES, original.input.channels, original.preprocess.crop, original.preprocess.crop)
    batch = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    (want,) = pool.run(original, batch, [original.output.name])[1]
    (got,) = pool.run(adopted, batch, [adopted.output.name])[1]
    return float(np.abs(want.astype(np.float64) - got.astype(np.float64)).max())
