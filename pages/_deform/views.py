"""What the Deformable page shows for a location: the sampling points before and after, points of
points, the offset field, the mask, the per-layer summary, and the spread-against-size study."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer.analysis.deform import DeformView, OffsetField, stacked_points
from explorer.analysis.deform_spread import SPREAD_IMAGES, SpreadStudy, spread_against_size
from explorer.runtime.weights import ExplainableModel
from explorer.views.deform import (
    magnitude_bars,
    map_heatmap,
    quiver_figure,
    sampling_figure,
    spread_answer,
    spread_figure,
    stacked_figure,
    summary_frame,
    taps_frame,
)
from pages._deform.state import W
from pages._inside.field import before_after_fields
from pages._shared.tables import table


@dataclass(frozen=True)
class Location:
    """The layer and output location (row i, column j) the pictures show."""

    layer: str
    i: int
    j: int
    row_key: str
    col_key: str


@st.cache_data(max_entries=8, show_spinner=False)
def spread_study(_model: ExplainableModel, key: tuple[str, ...], layer: str) -> SpreadStudy:
    """The spread-against-size study of ``layer`` (cached per model key and layer)."""
    return spread_against_size(_model.built, layer, mean=_model.mean, std=_model.std)


def location_controls(after: DeformView, query: str) -> Location:
    names = after.names

    def describe(name: str) -> str:
        f = after.fields[name]
        return f"{name} ({f.out_size[0]}×{f.out_size[1]}, stride {f.input_stride:g}→{f.output_stride:g})"

    layer = st.selectbox("Layer", names, index=len(names) - 1, format_func=describe, key=W.layer.at(query))
    h, w = after.fields[layer].out_size
    row_key, col_key = W.row.at(layer, h), W.col.at(layer, w)
    st.session_state.setdefault(row_key, h // 2)
    st.session_state.setdefault(col_key, w // 2)
    i = st.slider("Output row", 0, h - 1, key=row_key)
    j = st.slider("Output column", 0, w - 1, key=col_key)
    st.caption("Or click a location on the right-hand picture.")
    return Location(layer, i, j, row_key, col_key)


def _clicked(at: Location) -> None:
    points = st.session_state[W.chart.key].selection.points
    picked = [p.get("customdata") for p in points if p.get("customdata")]
    if picked:
        st.session_state[at.row_key], st.session_state[at.col_key] = int(picked[0][0]), int(picked[0][1])


def sampling_picture(view: DeformView, at: Location, title: str, clickable: bool) -> None:
    f = view.fields[at.layer]
    h, w = f.out_size
    grid = np.stack(np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), axis=-1).reshape(-1, 2)
    figure = sampling_figure(
        view.image,
        f.image_points(at.i, at.j, deformed=False),
        f.image_points(at.i, at.j),
        f.location_pixel(at.i, at.j),
        f.layer.kernel,
        offsets=f.tap_offsets(at.i, at.j),
        mask=f.mask_at(at.i, at.j),
        candidates=grid * f.output_stride if clickable else None,
        candidate_ids=[(int(c[0]), int(c[1])) for c in grid] if clickable else None,
        title=title,
    )
    if clickable:
        st.plotly_chart(figure, key=W.chart.key, on_select=lambda: _clicked(at), selection_mode="points")
    else:
        st.plotly_chart(figure, key=W.chart_before.key)


def spread_section(model: ExplainableModel, layer: str) -> None:
    study = spread_study(model, (model.weights, model.config.query), layer)
    st.subheader(spread_answer(layer, study.rho))
    title = f"{layer}: spread of its sampling points on the object, {study.n} held-out shapes"
    st.plotly_chart(spread_figure(study.sizes, study.spreads, study.regular_spread, title), key=W.spread.key)
    st.caption(
        f"Measured now on {SPREAD_IMAGES} shapes of a held-out seed: for each, the RMS distance of the layer's "
        "sampling points from their centre (image px), averaged over the output locations on the shape, "
        "against the square root of the shape's area. The dashed line is the regular grid (zero offsets)."
    )


def sampling_tab(before: DeformView, after: DeformView, at: Location, field: OffsetField) -> None:
    left, right = st.columns(2)
    with left:
        sampling_picture(before, at, f"Before training: {at.layer} at ({at.i}, {at.j})", clickable=False)
    with right:
        sampling_picture(after, at, f"After: {at.layer} at ({at.i}, {at.j})", clickable=True)
    table(taps_frame(field.tap_offsets(at.i, at.j) * field.input_stride, field.mask_at(at.i, at.j)), hide_index=True)


def stacked_tab(before: DeformView, after: DeformView, at: Location, field: OffsetField) -> None:
    chain = after.chain(at.layer)
    deepest = min(3, len(chain))
    levels = (
        st.slider("Layers down the chain", 1, deepest, deepest, key=W.levels.at(deepest)) if deepest > 1 else 1
    )
    taps = field.layer.taps
    st.caption(
        f"Each of {at.layer}'s sampling points is a location of the previous deformable layer, which samples "
        f"its own {taps} points there, and so on: {taps**levels} points "
        "for this location. Chain: " + " → ".join(chain[::-1][:levels])
    )
    labels = chain[::-1][:levels]
    left, right = st.columns(2)
    for column, view, title in ((left, before, "Before"), (right, after, "After")):
        points = stacked_points(view, at.layer, at.i, at.j, levels)
        figure = stacked_figure(
            view.image, points, field.location_pixel(at.i, at.j), labels, f"{title}: {taps**levels} points of points"
        )
        column.plotly_chart(figure, key=W.stacked.at(title))


def offsets_tab(after: DeformView, at: Location, field: OffsetField) -> None:
    tap = st.selectbox(
        "Arrows show",
        [None, *range(field.layer.taps)],
        format_func=lambda t: "the mean offset of the taps" if t is None else f"tap {t}'s offset",
        key=W.quiver_tap.key,
    )
    scale = st.slider("Arrow scale", 1.0, 10.0, 2.0, 0.5, key=W.scale.key)
    origins, vectors = field.quiver(tap=tap)
    left, right = st.columns(2)
    title = f"Offsets of {at.layer} (×{scale:g})"
    left.plotly_chart(quiver_figure(after.image, origins, vectors, scale, title), key=W.quiver.key)
    magnitude = field.magnitude() * field.input_stride
    right.plotly_chart(
        map_heatmap(after.image, magnitude, field.output_stride, f"Mean |offset| of {at.layer}", "image px"),
        key=W.magnitude.key,
    )


def mask_tab(after: DeformView, at: Location, field: OffsetField) -> None:
    if field.mask is None:
        st.info("This layer has no modulation mask (DCNv2): its samples all weigh 1.")
        return
    figure = map_heatmap(
        after.image, field.mask.mean(axis=0), field.output_stride, f"Mean mask of {at.layer}", "mask", 0, 1
    )
    st.plotly_chart(figure, key=W.mask.key)


def layers_tab(before: DeformView, after: DeformView) -> None:
    rows = after.summary()
    means = {"before": [r.mean_offset for r in before.summary()], "after": [r.mean_offset for r in rows]}
    st.plotly_chart(
        magnitude_bars(after.names, means, "Mean offset length per deformable layer"), key=W.bars.key
    )
    table(summary_frame(rows), hide_index=True)


def results(
    before: DeformView, after: DeformView, model: ExplainableModel, at: Location, zeroed: ExplainableModel
) -> None:
    """The spread study (once offsets are learned) and the tabs, for location ``at``; ``zeroed`` is
    ``model`` with zero offsets."""
    st.caption(f"Weights: {model.weights}")
    field = after.fields[at.layer]
    if field.magnitude().max() > 0:
        spread_section(model, at.layer)
    tabs = st.tabs(
        ["Sampling points", "Points of points", "Offset field", "Mask (DCNv2)", "Per layer", "Receptive field"]
    )
    with tabs[0]:
        sampling_tab(before, after, at, field)
    with tabs[1]:
        stacked_tab(before, after, at, field)
    with tabs[2]:
        offsets_tab(after, at, field)
    with tabs[3]:
        mask_tab(after, at, field)
    with tabs[4]:
        layers_tab(before, after)
    with tabs[5]:
        before_after_fields(zeroed, model, after.image, at.layer, (W.field_before.key, W.field_after.key))
