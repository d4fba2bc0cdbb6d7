"""Heatmaps as pictures: colour maps, overlays on the image, PNG bytes for download."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import Image
from plotly.colors import get_colorscale, sample_colorscale, unlabel_rgb

COLORMAPS = ("Jet", "Turbo", "Inferno", "Viridis", "Hot")


@cache
def _lookup_table(name: str) -> np.ndarray:
    """256 RGB entries of a plotly colour scale (``Jet``, ``Viridis``, ...)."""
    colours = sample_colorscale(get_colorscale(name), np.linspace(0, 1, 256).tolist(), colortype="rgb")
    return np.clip(np.round([unlabel_rgb(c) for c in colours]), 0, 255).astype(np.uint8)


def colorize(heatmap: np.ndarray, colormap: str = "Jet") -> np.ndarray:
    """A heatmap in [0, 1] (values outside are clipped) -> ``(H, W, 3)`` uint8."""
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colour map '{colormap}'; allowed: {', '.join(COLORMAPS)}")
    index = np.clip(np.nan_to_num(heatmap, nan=0.0) * 255, 0, 255).astype(np.uint8)
    return _lookup_table(colormap)[index]


def overlay(image: np.ndarray, heatmap: np.ndarray, opacity: float = 0.5, colormap: str = "Jet") -> np.ndarray:
    """Blend the coloured heatmap over ``image`` (same H x W, uint8 RGB) with ``opacity`` in [0, 1]."""
    if image.shape[:2] != heatmap.shape:
        raise ValueError(f"image {image.shape[:2]} and heatmap {heatmap.shape} differ in size")
    opacity = float(np.clip(opacity, 0.0, 1.0))
    blended = (1 - opacity) * image.astype(np.float32) + opacity * colorize(heatmap, colormap).astype(np.float32)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def png_bytes(array: np.ndarray) -> bytes:
    """uint8 ``(H, W, 3)`` or ``(H, W)`` -> PNG file bytes."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()
