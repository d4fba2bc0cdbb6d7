"""The Scaling lab's counted-cost tabs: the curve, the rounding, the published models, MobileNet's grid."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.published import published_accuracies
from explorer.analysis.scaling import rule_base, series_name
from explorer.views.scaling import (
    accuracy_vs_cost,
    cost_plane,
    cost_vs_phi,
    factor_bars,
    mobilenet_heatmap,
    stage_lines,
)
from explorer.views.scaling_tables import (
    accuracy_frame,
    factor_frame,
    grid_frame,
    published_frame,
    rounding_frame,
    stage_frame,
    sweep_frame,
)
from explorer.views.scaling_text import rounding_sentence
from pages._scaling.analyses import cached_explain, cached_grid
from pages._scaling.design import Design
from pages._scaling.state import W
from pages._shared.inputs import published_weights_choice
from pages._shared.tables import table

NUMBER = st.column_config.NumberColumn


def curve_tab(design: Design) -> None:
    points, published = design.points, design.published
    left, right = st.columns(2)
    left.plotly_chart(cost_vs_phi(points, published, "macs"), key=W.macs_phi.key)
    right.plotly_chart(cost_plane(points, published, current=design.cost), key=W.plane.key)
    table(
        sweep_frame(points),
        hide_index=True,
        column_config={c: NUMBER(format="%.3f") for c in ("MACs / rule", "depth x", "width x")},
        key=W.sweep_table.key,
    )
    left, right = st.columns(2)
    left.plotly_chart(stage_lines(points, "blocks"), key=W.blocks.key)
    right.plotly_chart(stage_lines(points, "channels"), key=W.channels.key)
    st.plotly_chart(cost_vs_phi(points, published, "params"), key=W.params_phi.key)
    with st.expander("Blocks and channels per stage, per phi"):
        table(stage_frame(points, "blocks"), hide_index=True)
        table(stage_frame(points, "channels"), hide_index=True)


def rounding_tab(design: Design) -> None:
    if design.phi == 0:
        st.info("At phi=0 the design is the base network: nothing is scaled, so nothing is rounded.")
        return
    with st.spinner("Building each multiplier alone…"):
        explanation = cached_explain(rule_base(design.base).query, design.rule, design.phi)
    st.markdown(rounding_sentence(design.phi, explanation.macs, explanation.predicted_macs, explanation.ratio))
    left, right = st.columns([2, 3])
    left.plotly_chart(factor_bars(explanation), key=W.factors.key)
    with right:
        for factor in explanation.factors:
            st.markdown(f"**{factor.name}** ×{factor.ratio:.3f}: {factor.sentence}")
    table(factor_frame(explanation), hide_index=True)
    table(rounding_frame(explanation), hide_index=True, key=W.rounding_table.key)


def published_tab(design: Design) -> None:
    profile = design.profile
    st.markdown(
        f"{series_name(design.published)} use hand-picked (width, depth, resolution), not integer phi. "
        "*Nominal phi* is the phi at which this rule predicts the same MACs as a model's own multipliers."
    )
    table(published_frame(design.published, profile.params, profile.macs), hide_index=True, key=W.published_table.key)
    entries = published_accuracies(published_weights_choice(W.weights.key))
    axis = st.radio(
        "Cost axis", ["params", "macs"], format_func={"params": "parameters", "macs": "MACs"}.get, horizontal=True
    )
    cost = profile.params if axis == "params" else profile.macs
    st.plotly_chart(accuracy_vs_cost(entries, axis, current=(profile.query, cost)), key=W.accuracy.key)
    st.caption(
        "Accuracies are published figures (torchvision's weights metadata, ImageNet-1K validation, at each "
        "model's eval crop), read from the installed package. The current design has no published accuracy: "
        "it is placed on the cost axis only."
    )
    table(accuracy_frame(entries), hide_index=True)


def grid_tab() -> None:
    with st.spinner("Profiling 16 MobileNets…"):
        cells = cached_grid()
    left, right = st.columns(2)
    left.plotly_chart(mobilenet_heatmap(cells, "macs"), key=W.grid_macs.key)
    right.plotly_chart(mobilenet_heatmap(cells, "params"), key=W.grid_params.key)
    st.caption(
        "MobileNetV1 (Howard et al., 2017): alpha thins every layer (cost ≈ alpha², parameters ≈ alpha²); "
        "the input side changes cost ≈ side² and leaves parameters alone. The paper's figures are from its "
        "Tables 6 and 7."
    )
    table(grid_frame(cells), hide_index=True)
