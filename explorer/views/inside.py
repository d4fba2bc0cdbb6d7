"""What a layer sees, drawn: its channels tiled into one picture, one channel over the image, the
effective receptive field over the image with the theoretical square, and the field against depth.
No torch, no streamlit: numpy arrays and plain numbers in, pictures and plotly figures out.

A layer of 2,048 channels of 7x7 is one ``(H, W, 3)`` uint8 picture tiled here with numpy (one
widget, one PNG), never a widget per channel (CNN Explainer's grid, for any layer of any size).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from explorer.views.layout import standard_layout
from explorer.views.overlay import colorize, overlay

#: The widest a tiled grid is drawn (pixels): small maps are enlarged by whole factors up to this.
GRID_WIDTH = 1280
#: Below this share of its peak the field is not drawn over the picture.
FAINT = 0.01
#: Channels the grid shows before "show all".
FIRST_CHANNELS = 64


class LayerWeights(enum.Enum):
    """Whose weights the Inside page reads a layer of."""

    IMAGENET = "imagenet"
    LITE0 = "lite0"
    SHIPPED = "shipped"
    CHECKPOINT = "checkpoint"
    FRESH = "fresh"


WEIGHTS_LABELS = {
    LayerWeights.IMAGENET: "ImageNet weights (cached)",
    LayerWeights.LITE0: "ImageNet: EfficientNet-Lite0 (offline)",
    LayerWeights.SHIPPED: "Shipped model (trained on shapes)",
    LayerWeights.CHECKPOINT: "Uploaded checkpoint",
    LayerWeights.FRESH: "Fresh weights (untrained)",
}


@dataclass(frozen=True)
class ChannelGrid:
    """Channels tiled row by row: ``image`` ``(H, W, 3)`` uint8, ``columns`` per row, each channel
    ``cell`` pixels square (its map enlarged ``scale`` times), 1 pixel apart."""

    image: np.ndarray
    channels: tuple[int, ...]
    columns: int
    scale: int


def normalised(values: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] over the whole array (a constant array is all zeros)."""
    low, high = float(values.min()), float(values.max())
    return (
        np.zeros_like(values, dtype=np.float32) if high <= low else ((values - low) / (high - low)).astype(np.float32)
    )


def channel_grid(
    maps: np.ndarray, channels: Sequence[int], colormap: str = "Viridis", width: int = GRID_WIDTH
) -> ChannelGrid:
    """``channels`` of ``maps`` ``(C, h, w)`` as one picture, in the given order. Each channel is
    scaled to its own [0, 1] (its pattern shows whatever its range); the grid is about square and at
    most ``width`` pixels wide."""
    chosen = np.asarray(channels, dtype=int)
    if chosen.size == 0:
        raise ValueError("no channels to draw")
    _, h, w = maps.shape
    columns = max(1, min(chosen.size, math.ceil(math.sqrt(chosen.size * h / w))))
    columns = min(columns, max(1, width // (w + 1)))
    scale = max(1, min(16, width // (columns * (w + 1)), 256 // max(h, w)))
    rows = math.ceil(chosen.size / columns)
    cell_h, cell_w = h * scale + 1, w * scale + 1
    selected = maps[chosen].astype(np.float32)
    low = selected.reshape(chosen.size, -1).min(1)[:, None, None]
    span = selected.reshape(chosen.size, -1).max(1)[:, None, None] - low
    unit = np.where(span > 0, (selected - low) / np.where(span > 0, span, 1), 0.0)
    big = unit.repeat(scale, axis=1).repeat(scale, axis=2)
    canvas = np.ones((rows * cell_h - 1, columns * cell_w - 1), np.float32) * np.nan
    for k in range(chosen.size):
        r, c = divmod(k, columns)
        canvas[r * cell_h : r * cell_h + h * scale, c * cell_w : c * cell_w + w * scale] = big[k]
    picture = colorize(np.nan_to_num(canvas, nan=0.0), colormap)
    picture[np.isnan(canvas)] = 255  # the gaps and the empty cells of the last row: white
    return ChannelGrid(picture, tuple(int(c) for c in chosen), columns, scale)


def grid_channel_at(grid: ChannelGrid, row: float, column: float, cell: tuple[int, int]) -> int | None:
    """The channel drawn at pixel (row, column) of ``grid`` (maps of ``cell`` = (h, w)), None for a gap."""
    h, w = cell
    r, c = int(row) // (h * grid.scale + 1), int(column) // (w * grid.scale + 1)
    k = r * grid.columns + c
    return grid.channels[k] if 0 <= c < grid.columns and 0 <= k < len(grid.channels) else None


def upsampled(values: np.ndarray, side: tuple[int, int]) -> np.ndarray:
    """A ``(h, w)`` map resized bilinearly to ``side`` = (H, W), float32."""
    picture = Image.fromarray(np.asarray(values, dtype=np.float32), mode="F")
    return np.asarray(picture.resize((side[1], side[0]), Image.Resampling.BILINEAR), dtype=np.float32)


def channel_over_image(
    image: np.ndarray, values: np.ndarray, opacity: float = 0.6, colormap: str = "Viridis"
) -> np.ndarray:
    """One channel ``(h, w)``, scaled to [0, 1], enlarged to the picture's side and blended over it."""
    return overlay(image, normalised(upsampled(values, image.shape[:2])), opacity, colormap)


#: A table's columns: name -> values.
Columns = dict[str, list[float] | list[int] | list[str]]


def channel_rows(
    means: np.ndarray,
    maxima: np.ndarray,
    minima: np.ndarray,
    stds: np.ndarray,
    active: np.ndarray,
    channels: Sequence[int],
) -> Columns:
    """The per-channel statistics of ``channels`` as table columns."""
    chosen = list(channels)
    return {
        "channel": chosen,
        "mean": [float(means[c]) for c in chosen],
        "max": [float(maxima[c]) for c in chosen],
        "min": [float(minima[c]) for c in chosen],
        "std": [float(stds[c]) for c in chosen],
        "positive": [f"{active[c]:.0%}" for c in chosen],
    }


# -- the effective receptive field ------------------------------------------------------------------
class SideLike(Protocol):
    @property
    def side(self) -> int | None: ...
    @property
    def whole(self) -> bool: ...


class FieldLike(Protocol):
    """What the views read of an effective field (``explorer.analysis.erf.EffectiveField``)."""

    @property
    def layer(self) -> str: ...
    @property
    def field(self) -> np.ndarray: ...
    @property
    def rms_radius(self) -> float: ...
    @property
    def side95(self) -> int: ...
    @property
    def theoretical(self) -> SideLike: ...
    @property
    def centroid(self) -> tuple[float, float]: ...


def _square(fig: go.Figure, centre: tuple[float, float], side: float, color: str, dash: str, name: str) -> None:
    cy, cx = centre
    half = side / 2
    fig.add_trace(
        go.Scatter(
            x=[cx - half, cx + half, cx + half, cx - half, cx - half],
            y=[cy - half, cy - half, cy + half, cy + half, cy - half],
            mode="lines",
            line={"color": color, "dash": dash, "width": 2},
            name=name,
            hoverinfo="name",
        )
    )


def field_figure(
    image: np.ndarray,
    field: FieldLike,
    title: str = "",
    opacity: float = 0.6,
    height: int = 480,
    colorbar: bool = True,
) -> go.Figure:
    """The field (scaled to its peak) over the image, with the theoretical square (solid) and the
    square holding 95 % of the field (dashed), both centred on the field's centroid."""
    values = np.asarray(field.field, dtype=float)
    height_px, width_px = values.shape
    peak = float(values.max()) or 1.0
    fig = go.Figure(go.Image(z=image, hoverinfo="skip"))
    shown = values / peak
    shown[shown < FAINT] = np.nan  # transparent: the picture shows where the unit does not look
    fig.add_trace(
        go.Heatmap(
            z=shown,
            zmin=0,
            zmax=1,
            colorscale="Inferno",
            opacity=opacity,
            colorbar={"title": {"text": "share of peak", "side": "right"}},
            showscale=colorbar,
            hovertemplate="(y %{y}, x %{x}): %{z:.3f} of the peak<extra></extra>",
        )
    )
    side = field.theoretical.side
    if side and not field.theoretical.whole:
        _square(fig, field.centroid, side, "#00d5ff", "solid", f"theoretical field, {side} px")
    if field.side95:
        _square(fig, field.centroid, field.side95, "#ffffff", "dash", f"95 % of the effect, {field.side95} px")
    fig.update_xaxes(range=[-0.5, width_px - 0.5], showgrid=False, constrain="domain")
    fig.update_yaxes(range=[height_px - 0.5, -0.5], showgrid=False, scaleanchor="x")
    return standard_layout(fig, title, height)


def depth_figure(curves: Sequence[tuple[str, Sequence[FieldLike]]], title: str = "") -> go.Figure:
    """Per curve, the effective RMS radius at each place along the depth; the theoretical half-side
    (dashed) and a sqrt(n) reference through the first point (dotted), both for the first curve."""
    fig = go.Figure()
    for index, (label, fields) in enumerate(curves):
        depth = list(range(1, len(fields) + 1))
        names = [f.layer for f in fields]
        fig.add_trace(
            go.Scatter(
                x=depth,
                y=[f.rms_radius for f in fields],
                customdata=names,
                mode="lines+markers",
                name=f"{label}: effective RMS radius",
                hovertemplate="%{customdata}: %{y:.1f} px<extra></extra>",
            )
        )
        if index:
            continue
        sides = [f.theoretical.side for f in fields]
        if any(sides):
            fig.add_trace(
                go.Scatter(
                    x=depth,
                    y=[s / 2 if s else None for s in sides],
                    customdata=names,
                    mode="lines",
                    line={"dash": "dash"},
                    name=f"{label}: theoretical half-side",
                    hovertemplate="%{customdata}: %{y:.1f} px<extra></extra>",
                )
            )
        first = fields[0].rms_radius
        fig.add_trace(
            go.Scatter(
                x=depth,
                y=[first * math.sqrt(n) for n in depth],
                mode="lines",
                line={"dash": "dot", "color": "grey"},
                name="√n reference (first point × √depth)",
                hoverinfo="skip",
            )
        )
    if curves:
        places = [f.layer for f in curves[0][1]]
        fig.update_xaxes(tickvals=list(range(1, len(places) + 1)), ticktext=places)
    fig.update_xaxes(title="place along the depth (stem, then stages or blocks)")
    fig.update_yaxes(title="input pixels")
    return standard_layout(fig, title, 420)


def field_words(field: FieldLike) -> str:
    """One sentence: how far the unit looks, in effect and in theory."""
    side = field.theoretical.side
    effect = f"RMS radius {field.rms_radius:.1f} px; 95 % of the effect within {field.side95}×{field.side95} px"
    if not side:
        return f"{field.layer}: {effect}."
    if field.theoretical.whole:
        return f"{field.layer}: {effect}; in theory the whole picture (a global pooling, squeeze-excitation, feeds it)."
    return f"{field.layer}: {effect}, of a theoretical {side}×{side} px ({field.side95 / side:.0%} of its side)."
