"""Deformable-convolution pictures: numpy arrays in, plotly figures out (no torch, no streamlit).

Every figure is drawn in image-pixel coordinates: pixel ``(y, x)`` of the picture is centred on
``(x, y)`` of the axes (``go.Image``'s convention), the y axis points down and one unit is one pixel
on both axes, so a point ``(y, x)`` from :mod:`explorer.analysis.deform` is drawn exactly where
the model samples. Points are ``(y, x)`` arrays; plotly wants ``x`` then ``y``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

REGULAR = "#00e5ff"  # cyan: the regular grid
DEFORMED = "#ff2d95"  # magenta: where the deformable conv samples
LOCATION = "#ffe600"  # yellow: the output location
LEVEL_COLOURS = ("#ff2d95", "#ffb000", "#00e5ff", "#7cff4d", "#ffffff")
OUTLINE = "rgba(0,0,0,0.85)"


def _image_layout(fig: go.Figure, side: tuple[int, int], title: str, height: int) -> go.Figure:
    h, w = side
    fig.update_xaxes(range=[-0.5, w - 0.5], showgrid=False, zeroline=False, constrain="domain", title=None)
    fig.update_yaxes(
        range=[h - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1, constrain="domain"
    )
    fig.update_layout(
        title={"text": title, "font": {"size": 15}},
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 90},
        legend={"orientation": "h", "yanchor": "top", "y": -0.08, "xanchor": "left", "x": 0, "font": {"size": 13}},
        dragmode="pan",
        plot_bgcolor="black",
        clickmode="event+select",
    )
    return fig


def _image_trace(image: np.ndarray) -> go.Image:
    return go.Image(z=np.asarray(image, dtype=np.uint8), hoverinfo="skip", name="image")


def _segments(starts: np.ndarray, ends: np.ndarray) -> tuple[list[float | None], list[float | None]]:
    """x and y lists for plotly lines from ``starts`` to ``ends`` (``(N, 2)`` as ``(y, x)``)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for (y0, x0), (y1, x1) in zip(starts, ends, strict=True):
        xs += [float(x0), float(x1), None]
        ys += [float(y0), float(y1), None]
    return xs, ys


def _grid_lines(points: np.ndarray, kernel: tuple[int, int]) -> tuple[list[float | None], list[float | None]]:
    """The lattice through a kernel's taps (rows and columns), so a bent grid reads as a grid."""
    kh, kw = kernel
    grid = points.reshape(kh, kw, 2)
    xs: list[float | None] = []
    ys: list[float | None] = []
    for line in [grid[a] for a in range(kh)] + [grid[:, b] for b in range(kw)]:
        xs += [float(v) for v in line[:, 1]] + [None]
        ys += [float(v) for v in line[:, 0]] + [None]
    return xs, ys


def sampling_figure(
    image: np.ndarray,
    regular: np.ndarray,
    deformed: np.ndarray,
    location: tuple[float, float],
    kernel: tuple[int, int] = (3, 3),
    offsets: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
    candidate_ids: Sequence[tuple[int, int]] | None = None,
    title: str = "",
    height: int = 520,
) -> go.Figure:
    """The regular grid (cyan, hollow) and the deformed sampling points (magenta, filled) of one
    output location (yellow star) over the image, with a line from each regular point to its
    deformed point. ``regular``/``deformed``: ``(taps, 2)`` image pixels ``(y, x)``; ``offsets``
    ``(taps, 2)`` and ``mask`` ``(taps,)`` only label the hover text (a mask also sizes the dots).
    ``candidates`` ``(N, 2)``: faint clickable dots, one per output location, whose customdata is
    ``candidate_ids``' ``(i, j)``.
    """
    regular = np.asarray(regular, dtype=float)
    deformed = np.asarray(deformed, dtype=float)
    fig = go.Figure(_image_trace(image))
    if candidates is not None and len(candidates):
        fig.add_trace(
            go.Scatter(
                x=candidates[:, 1],
                y=candidates[:, 0],
                mode="markers",
                marker={"size": 7, "color": "rgba(255,255,255,0.18)", "line": {"width": 0}},
                customdata=[list(c) for c in (candidate_ids or [])],
                hovertemplate="output (%{customdata[0]}, %{customdata[1]}): click to pick<extra></extra>",
                name="locations (click one)",
                showlegend=False,
            )
        )
    gx, gy = _grid_lines(regular, kernel)
    fig.add_trace(
        go.Scatter(
            x=gx,
            y=gy,
            mode="lines",
            line={"color": REGULAR, "width": 1.5, "dash": "dot"},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    dx, dy = _grid_lines(deformed, kernel)
    fig.add_trace(
        go.Scatter(x=dx, y=dy, mode="lines", line={"color": DEFORMED, "width": 2}, hoverinfo="skip", showlegend=False)
    )
    mx, my = _segments(regular, deformed)
    fig.add_trace(
        go.Scatter(x=mx, y=my, mode="lines", line={"color": "white", "width": 1.5}, hoverinfo="skip", showlegend=False)
    )
    fig.add_trace(
        go.Scatter(
            x=regular[:, 1].tolist(),
            y=regular[:, 0].tolist(),
            mode="markers",
            marker={"size": 13, "color": "rgba(0,0,0,0)", "line": {"color": REGULAR, "width": 3}},
            name="regular grid p0 + pn",
            hovertemplate="regular (y %{y:.2f}, x %{x:.2f})<extra></extra>",
        )
    )
    taps = np.arange(len(deformed))
    sizes = 8 + 12 * np.asarray(mask, dtype=float) if mask is not None else np.full(len(deformed), 13.0)
    text = [f"tap {t}" for t in taps]
    if offsets is not None:
        text = [f"{s}: dy {o[0]:+.2f}, dx {o[1]:+.2f} (input px)" for s, o in zip(text, offsets, strict=True)]
    if mask is not None:
        text = [f"{s}, mask {m:.2f}" for s, m in zip(text, mask, strict=True)]
    fig.add_trace(
        go.Scatter(
            x=deformed[:, 1].tolist(),
            y=deformed[:, 0].tolist(),
            mode="markers",
            marker={"size": sizes, "color": DEFORMED, "line": {"color": OUTLINE, "width": 1.5}},
            text=text,
            name="deformed p0 + pn + Δpn" + (" (size: mask)" if mask is not None else ""),
            hovertemplate="%{text}<br>(y %{y:.2f}, x %{x:.2f})<extra></extra>",
        )
    )
    fig.add_trace(_location_trace(location))
    return _image_layout(fig, np.asarray(image).shape[:2], title, height)


def _location_trace(location: tuple[float, float]) -> go.Scatter:
    """The star marking the output location whose sampling points are drawn."""
    return go.Scatter(
        x=[location[1]],
        y=[location[0]],
        mode="markers",
        marker={"symbol": "star", "size": 18, "color": LOCATION, "line": {"color": OUTLINE, "width": 1.5}},
        name="output location",
        hovertemplate="output at (y %{y:.1f}, x %{x:.1f})<extra></extra>",
    )


def stacked_figure(
    image: np.ndarray,
    levels: Sequence[np.ndarray],
    location: tuple[float, float],
    layer_names: Sequence[str] = (),
    title: str = "",
    height: int = 520,
) -> go.Figure:
    """Points of points: level 0 (the chosen layer's own sampling points) largest, each deeper
    level (the previous deformable layer's points for each of them) smaller and in its own colour."""
    fig = go.Figure(_image_trace(image))
    for depth in range(len(levels) - 1, -1, -1):  # deepest first, so the top layer's points stay on top
        points = np.asarray(levels[depth], dtype=float)
        name = layer_names[depth] if depth < len(layer_names) else f"level {depth}"
        fig.add_trace(
            go.Scatter(
                x=points[:, 1].tolist(),
                y=points[:, 0].tolist(),
                mode="markers",
                marker={
                    "size": max(4.0, 13.0 - 3.5 * depth),
                    "color": LEVEL_COLOURS[depth % len(LEVEL_COLOURS)],
                    "opacity": 0.9 if depth == 0 else 0.7,
                    "line": {"color": OUTLINE, "width": 1},
                },
                name=f"{name}: {len(points)} points",
                hovertemplate=f"{name}<br>(y %{{y:.2f}}, x %{{x:.2f}})<extra></extra>",
            )
        )
    fig.add_trace(_location_trace(location))
    return _image_layout(fig, np.asarray(image).shape[:2], title, height)


def quiver_figure(
    image: np.ndarray, origins: np.ndarray, vectors: np.ndarray, scale: float = 1.0, title: str = "", height: int = 520
) -> go.Figure:
    """Arrows from each output location along its offset (image pixels, times ``scale``), over a
    dimmed image. ``origins``/``vectors``: ``(N, 2)`` as ``(y, x)``."""
    origins = np.asarray(origins, dtype=float)
    vectors = np.asarray(vectors, dtype=float) * scale
    ends = origins + vectors
    length = np.linalg.norm(vectors, axis=1)
    unit = np.divide(vectors, length[:, None], out=np.zeros_like(vectors), where=length[:, None] > 0)
    head = np.minimum(0.35 * length, 1.5)[:, None]
    left = np.stack([-unit[:, 1], unit[:, 0]], axis=1)  # perpendicular
    barb1 = ends - head * unit + 0.6 * head * left
    barb2 = ends - head * unit - 0.6 * head * left
    dimmed = (np.asarray(image, dtype=float) * 0.55).astype(np.uint8)
    fig = go.Figure(_image_trace(dimmed))
    sx, sy = _segments(origins, ends)
    hx1, hy1 = _segments(ends, barb1)
    hx2, hy2 = _segments(ends, barb2)
    fig.add_trace(
        go.Scatter(
            x=sx + hx1 + hx2,
            y=sy + hy1 + hy2,
            mode="lines",
            line={"color": LOCATION, "width": 2},
            hoverinfo="skip",
            name=f"offset × {scale:g}",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=origins[:, 1],
            y=origins[:, 0],
            mode="markers",
            marker={"size": 4, "color": REGULAR},
            customdata=np.c_[vectors / scale, length / scale],
            hovertemplate="dy %{customdata[0]:+.2f}, dx %{customdata[1]:+.2f} "
            "(|%{customdata[2]:.2f}| image px)<extra></extra>",
            name="output locations",
        )
    )
    return _image_layout(fig, dimmed.shape[:2], title, height)


def map_heatmap(
    image: np.ndarray,
    values: np.ndarray,
    stride: float,
    title: str = "",
    colorbar: str = "",
    zmin: float | None = None,
    zmax: float | None = None,
    colorscale: str = "Viridis",
    opacity: float = 0.75,
    height: int = 520,
) -> go.Figure:
    """A per-location map ``(H_out, W_out)`` (offset magnitude, mask, ...) over the image, each cell
    centred on its output location (``stride`` image pixels apart)."""
    values = np.asarray(values, dtype=float)
    h, w = values.shape
    fig = go.Figure(_image_trace(image))
    fig.add_trace(
        go.Heatmap(
            z=values,
            x=np.arange(w) * stride,
            y=np.arange(h) * stride,
            zmin=zmin,
            zmax=zmax,
            colorscale=colorscale,
            opacity=opacity,
            colorbar={"title": {"text": colorbar, "side": "right"}},
            hovertemplate="(y %{y:.0f}, x %{x:.0f}): %{z:.3f}<extra></extra>",
        )
    )
    return _image_layout(fig, np.asarray(image).shape[:2], title, height)


def magnitude_bars(layers: Sequence[str], series: Mapping[str, Sequence[float]], title: str = "") -> go.Figure:
    """Mean offset length per layer (image pixels), one bar group per series (e.g. before, after)."""
    fig = go.Figure()
    for (name, values), colour in zip(series.items(), (REGULAR, DEFORMED, LOCATION), strict=False):
        fig.add_trace(go.Bar(x=list(layers), y=list(values), name=name, marker_color=colour))
    fig.update_layout(
        title=title,
        barmode="group",
        height=360,
        yaxis_title="mean |offset| (image px)",
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


def spread_figure(
    sizes: Sequence[float] | np.ndarray,
    spreads: Sequence[float] | np.ndarray,
    regular: float,
    title: str = "",
    height: int = 360,
) -> go.Figure:
    """Scatter of a layer's sampling spread (image px) against the object's size (image px), with the
    regular grid's spread as a dashed line (what zero offsets give)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=list(sizes), y=list(spreads), mode="markers", name="held-out shape", opacity=0.7))
    if len(sizes):
        fig.add_trace(
            go.Scatter(
                x=[min(sizes), max(sizes)],
                y=[regular, regular],
                mode="lines",
                line={"dash": "dash"},
                name="regular grid (zero offsets)",
            )
        )
    fig.update_layout(
        title=title,
        height=height,
        xaxis_title="object size: sqrt(mask area), px",
        yaxis_title="sampling spread (RMS from centroid), px",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def spread_answer(layer: str, rho: float) -> str:
    """The question the spread study answers, and its answer in the learner's words with the number
    (Spearman's rank correlation between object size and the spread of the layer's sampling points)."""
    question = f"Does {layer} sample wider on bigger objects?"
    if rho != rho:  # NaN: every spread equal, no ranking to correlate
        return f"{question} Cannot tell: every object got the same spread"
    if rho >= 0.5:
        answer = "Yes: the bigger the object, the wider it samples"
    elif rho >= 0.2:
        answer = "A little: bigger objects get somewhat wider sampling"
    elif rho > -0.2:
        answer = "No: its spread does not follow the object's size"
    else:
        answer = "No, the opposite: bigger objects get narrower sampling"
    return f"{question} {answer} (Spearman ρ = {rho:+.2f})"


# -- tables and choices -------------------------------------------------------------------------------
MEAN_OFFSET = "mean |offset| (image px)"


def summary_frame(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """``DeformView.summary()``'s rows (:class:`~explorer.analysis.deform.LayerOffsets`) as a table."""
    return [
        {
            "layer": r.layer,
            "output": f"{r.out_size[0]}x{r.out_size[1]}",
            "input stride": r.input_stride,
            MEAN_OFFSET: r.mean_offset,
            "max |offset| (image px)": r.max_offset,
            "mean mask": r.mean_mask,
        }
        for r in rows
    ]


def taps_frame(taps: np.ndarray, mask: np.ndarray | None) -> dict[str, Any]:
    """One location's taps: their offsets ``(k*k, 2)`` as (dy, dx) in image px, and their mask."""
    table: dict[str, Any] = {
        "tap": list(range(len(taps))),
        "dy (image px)": taps[:, 0].round(3),
        "dx (image px)": taps[:, 1].round(3),
    }
    if mask is not None:
        table["mask"] = mask.round(3)
    return table

