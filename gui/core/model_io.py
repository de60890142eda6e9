"""What a model file's graph takes and gives, whoever wrote it: the image input (layout, element type,
fixed batch) and the class output (logits, probabilities or one sigmoid). The app computes everything
in [N, C, H, W] float32 and logits' terms; these two turn that into what the graph wants and back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

# The image input's element types the app feeds, by their ONNX code.
INPUT_TYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16"}


@dataclass(frozen=True)
class GraphIO:
    """How a file's graph takes and gives tensors, where it is not our exporter's way (NCHW float32 in,
    ``logits`` out): the ``io`` entry of a file adopted from another tool."""

    layout: str = "NCHW"
    output: str = "logits"
    output_kind: str = "logits"

    def to_json(self) -> dict:
        return {"layout": self.layout, "output": self.output, "output_kind": self.output_kind}

    @classmethod
    def from_json(cls, data: dict, where: str, error: type[Exception]) -> GraphIO:
        made = cls(str(data.get("layout", "NCHW")), str(data.get("output", "logits")),
                   str(data.get("output_kind", "logits")))
        if made.layout not in ("NCHW", "NHWC") or made.output_kind not in ("logits", "probabilities", "sigmoid"):
            raise error(f"{where}: metadata 'io' names an unknown layout or output kind")
        return made


@dataclass(frozen=True)
class InputSpec:
    name: str
    channels: int
    height: int | None  # None where the file leaves the side dynamic
    width: int | None
    layout: str = "NCHW"  # or NHWC: channels last, as Keras writes it
    dtype: str = "float32"  # one of INPUT_TYPES' values
    fixed_batch: int | None = None  # the batch the file fixes (then 1); None when dynamic

    @property
    def shape(self) -> list[int | None]:
        """[C, H, W], whatever the layout."""
        return [self.channels, self.height, self.width]

    def feed(self, batch: np.ndarray) -> np.ndarray:
        """A [N, C, H, W] float32 batch as the graph takes it."""
        if self.layout == "NHWC":
            batch = batch.transpose(0, 2, 3, 1)
        return np.ascontiguousarray(batch, dtype=np.float16 if self.dtype == "float16" else np.float32)

    def describe(self) -> str:
        side = f"{self.height or '?'}×{self.width or '?'}"
        parts = [f"{self.channels}×{side}", *(["channels last (NHWC)"] if self.layout == "NHWC" else []),
                 *(["float16 input"] if self.dtype == "float16" else [])]
        return ", ".join(parts)


@dataclass(frozen=True)
class OutputSpec:
    name: str
    width: int  # the output's own class dimension (1 for a single sigmoid)
    kind: str = "logits"  # probabilities: the file ends in a Softmax; sigmoid: in a Sigmoid

    @property
    def classes(self) -> int:
        """The classes a user sees: a single sigmoid is two (no, yes)."""
        return 2 if self.kind == "sigmoid" and self.width == 1 else self.width

    def probabilities(self, raw: np.ndarray) -> np.ndarray:
        """[N, classes] float64 probabilities from what the graph gave, never squashed twice: a file that
        ends in a Softmax gives probabilities already, and softmaxing them again flattens them."""
        raw = np.asarray(raw, dtype=np.float64)
        if self.kind == "probabilities":
            clipped = np.clip(np.nan_to_num(raw, nan=0.0), 0, None)
            total = clipped.sum(axis=-1, keepdims=True)
            return np.where(total > 0, clipped / np.where(total > 0, total, 1), 1 / raw.shape[-1])
        if self.kind == "sigmoid":
            p = np.clip(raw, 0, 1)
            return np.concatenate([1 - p, p], axis=-1) if self.width == 1 else p
        shifted = raw - raw.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=-1, keepdims=True)

    def describe(self) -> str:
        return {"logits": "logits", "probabilities": "probabilities (the file ends in a Softmax)",
                "sigmoid": "a sigmoid (the file ends in one)"}[self.kind]
