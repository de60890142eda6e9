"""Score-CAM (Wang et al. 2020, "Score-CAM: Score-Weighted Visual Explanations for CNNs") at any block,
with forward passes only: it runs on ONNX Runtime and OpenVINO, on any file whose block output the app
can tap. Qt-free, torch-free.

Each channel k of the block's output A, upsampled to the input and scaled to [0, 1], masks the image;
the class's softmax score on the masked image, less its score on a blank image, weighs A_k:
L = ReLU(Σ_k α_k A_k). Masking happens on the pixels (before the model's normalisation), as in the paper.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .engine import ClassActivationMap, Engine, upsample_to
from .model_file import ModelInfo

MAX_CHANNELS = 128  # masked passes per map; a wider block keeps its strongest channels, and says so
MASKS_PER_RUN = 16


def _upsampled(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """[K, h, w] -> [K, H, W], bilinear, each scaled to [0, 1] (a flat channel masks everything out)."""
    height, width = size
    out = np.empty((len(maps), height, width), np.float32)
    for k, channel in enumerate(maps):
        up = np.asarray(Image.fromarray(channel.astype(np.float32), mode="F").resize(
            (width, height), Image.Resampling.BILINEAR))
        low, high = float(up.min()), float(up.max())
        out[k] = (up - low) / (high - low) if high > low else 0.0
    return out


def score_cam(engine: Engine, info: ModelInfo, image: Image.Image, block: str, class_index: int | None = None,
              max_channels: int = MAX_CHANNELS) -> tuple[ClassActivationMap, str]:
    """The Score-CAM of ``block`` for one class (default: the top one) at the image's size, in [0, 1], and a
    note of what was bounded (empty when every channel was used)."""
    tensor = info.taps.tensor(block, "output")
    if tensor is None:
        raise KeyError(f"{info.name} has no output tensor for {block}")
    model_input = engine.model_input(info, image)
    features, raw = engine.taps(info, model_input[None], [tensor, info.output.name])
    activations = info.taps.as_nchw(tensor, features)[0]
    probabilities = info.output.probabilities(raw)[0]
    chosen = int(np.argmax(probabilities)) if class_index is None else int(class_index)
    note = ""
    order = np.arange(len(activations))
    if len(activations) > max_channels:
        order = np.argsort(-activations.mean(axis=(1, 2)), kind="stable")[:max_channels]
        note = (f"the {max_channels} channels of {block} with the highest mean activation, of {len(activations)}: "
                f"one masked pass per channel")
    mean = np.asarray(info.preprocess.mean, np.float32)[:, None, None]
    std = np.asarray(info.preprocess.std, np.float32)[:, None, None]
    pixels = model_input * std + mean
    masks = _upsampled(activations[order], model_input.shape[1:])
    blank = engine.classify_scores(info, ((np.zeros_like(pixels) - mean) / std)[None])[0, chosen]
    scores = np.empty(len(order), np.float32)
    for start in range(0, len(order), MASKS_PER_RUN):
        masked = (pixels[None] * masks[start:start + MASKS_PER_RUN, None] - mean) / std
        scores[start:start + MASKS_PER_RUN] = engine.classify_scores(info, masked.astype(np.float32))[:, chosen]
    weights = scores - blank
    cam = np.maximum(np.tensordot(weights, activations[order], axes=1), 0)
    peak = float(cam.max())
    heat = cam / peak if peak > 0 else cam
    return (ClassActivationMap(upsample_to(heat, image.size, info.preprocess), chosen, float(probabilities[chosen]),
                               peak, False, probabilities), note)
