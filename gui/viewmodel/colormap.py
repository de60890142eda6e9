"""Perceptual colouring of feature maps and CAM overlays (no Qt)."""

from __future__ import annotations

import numpy as np

# Viridis (van der Walt & Smith, matplotlib) sampled at nine evenly spaced stops.
_VIRIDIS_STOPS = ["#440154", "#472c7a", "#3b518b", "#2c718e", "#21908d", "#27ad81", "#5cc863", "#aadc32", "#fde725"]


def _lut(stops: list[str]) -> np.ndarray:
    rgb = np.array([[int(s[i:i + 2], 16) for i in (1, 3, 5)] for s in stops], dtype=np.float64)
    positions = np.linspace(0, 1, len(stops))
    grid = np.linspace(0, 1, 256)
    return np.stack([np.interp(grid, positions, rgb[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)


VIRIDIS = _lut(_VIRIDIS_STOPS)


def colorize(values: np.ndarray) -> np.ndarray:
    """[..., H, W] values in [0, 1] -> [..., H, W, 3] uint8 viridis."""
    index = np.clip(np.nan_to_num(values) * 255, 0, 255).astype(np.uint8)
    return VIRIDIS[index]


def overlay(image_rgb: np.ndarray, heat: np.ndarray, opacity: float) -> np.ndarray:
    """Blend a [H, W] heat map in [0, 1] over an [H, W, 3] uint8 image; weak heat shows less."""
    colours = colorize(heat).astype(np.float32)
    alpha = (opacity * np.clip(heat, 0, 1) ** 0.5)[..., None]
    return (image_rgb.astype(np.float32) * (1 - alpha) + colours * alpha).round().astype(np.uint8)
