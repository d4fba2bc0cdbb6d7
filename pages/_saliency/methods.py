"""Methods side by side, the sanity strip and the deletion/insertion curves, each behind a toggle (they
cost from a second to several on a photo); results are cached per model, image, target and options."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from explorer.analysis.attribution import attribute_all, has_relu_modules, model_input
from explorer.analysis.curves import CurvePair
from explorer.analysis.faithfulness import curves
from explorer.analysis.methods import METHODS, Attribution, Method, MethodOptions, cost, occlusion_geometry
from explorer.analysis.sanity import cascading_randomization
from explorer.analysis.sanity_data import SANITY_METHODS, SanityCheck
from explorer.data.images import image_digest
from explorer.runtime.weights import ExplainableModel
from explorer.views.overlay import overlay, png_bytes
from explorer.views.saliency_methods import (
    curves_figure,
    curves_rows,
    method_caption,
    normalised,
    sanity_figure,
    sanity_rows,
    sanity_strip,
    sanity_verdict,
)
from pages._shared.tables import table

#: The side-by-side default: every method but Occlusion (hundreds of forwards on a photo: ask for it).
DEFAULT_METHODS = [m for m in Method if m is not Method.OCCLUSION]


def _label(method: Method) -> str:
    return METHODS[method].label


def chosen_methods(label: str, default: Sequence[Method], key: str) -> list[Method]:
    """The methods a section computes (a multiselect); empty, with a hint, when none is chosen."""
    chosen = st.multiselect(label, list(Method), default, format_func=_label, key=key)
    if not chosen:
        st.info("Choose at least one method.")
    return chosen


def model_key(model: ExplainableModel) -> str:
    """What tells cached results apart: whose weights, and which loaded module holds them."""
    return f"{model.config.query}|{model.weights}|{id(model.built.module)}"


@st.cache_data(max_entries=8, show_spinner=False)
def side_by_side(
    _model: ExplainableModel,
    key: str,
    _image: Any,
    digest: str,
    methods: tuple[Method, ...],
    target: int,
    options: MethodOptions,
) -> list[Attribution]:
    return attribute_all(_model.built, model_input(_model, _image), methods, target, options)


@st.cache_data(max_entries=8, show_spinner=False)
def sanity(
    _model: ExplainableModel,
    key: str,
    _image: Any,
    digest: str,
    methods: tuple[Method, ...],
    target: int,
    options: MethodOptions,
) -> SanityCheck:
    return cascading_randomization(_model.built, model_input(_model, _image), methods, target, options)


@st.cache_data(max_entries=8, show_spinner=False)
def faithfulness(
    _model: ExplainableModel,
    key: str,
    _image: Any,
    digest: str,
    methods: tuple[Method, ...],
    target: int,
    options: MethodOptions,
) -> list[CurvePair]:
    tensor = model_input(_model, _image)
    maps = {_label(a.method): a.heatmap for a in attribute_all(_model.built, tensor, methods, target, options)}
    return curves(_model.built, tensor, maps, target)


def method_options(layer: str, relu: bool, methods: list[Method], side: int) -> MethodOptions:
    """Occlusion's window and stride, when Occlusion is chosen; the rest as the Grad-CAM controls say."""
    window = stride = None
    if Method.OCCLUSION in methods:
        default_window, default_stride = occlusion_geometry(side, side, None, None)
        columns = st.columns(2)
        window = columns[0].number_input(
            "Occlusion window (px)", 1, side, default_window, key=f"saliency.window.{side}"
        )
        stride = columns[1].number_input(
            "Occlusion stride (px)", 1, side, default_stride, key=f"saliency.stride.{side}"
        )
    return MethodOptions(
        layer=layer, relu=relu, window=int(window) if window else None, stride=int(stride) if stride else None
    )


def methods_section(
    model: ExplainableModel, image: Any, shown: Any, target: int, layer: str, relu: bool, opacity: float, colormap: str
) -> None:
    """Every chosen method's map of ``target``, three to a row, each with what it computes and costs."""
    st.subheader("Methods side by side")
    chosen = chosen_methods("Methods", DEFAULT_METHODS, "saliency.methods")
    if not chosen:
        return
    side = model.config.input_resolution
    options = method_options(layer, relu, chosen, side)
    with st.spinner("Computing the maps…"):
        results = side_by_side(model, model_key(model), image, image_digest(image), tuple(chosen), target, options)
    for start in range(0, len(results), 3):
        cells = st.columns(3)
        for cell, result in zip(cells, results[start : start + 3], strict=False):
            cell.image(
                overlay(shown, normalised(result.heatmap), opacity, colormap),
                caption=_label(result.method),
                width="stretch",
            )
            cell.caption(method_caption(result, cost(result.method, side, side, options)))
    if Method.GUIDED_BACKPROP in chosen and not has_relu_modules(model.built.module):
        st.caption(
            "This network has no `nn.ReLU` modules: captum's Guided Backprop modifies only those, so here it equals "
            "the plain gradients."
        )


def sanity_section(
    model: ExplainableModel, image: Any, shown: Any, target: int, layer: str, relu: bool, opacity: float, colormap: str
) -> None:
    """The cascading randomisation as a strip, with its verdict in words, the ρ curve and the numbers."""
    st.subheader("Sanity check: does the map depend on what the network learned?")
    st.caption(
        "Adebayo et al. (2018): re-initialise a private copy of the network from the head down to the stem, one "
        "stage at a time, and compare each map with the trained one (Spearman rank correlation ρ). A map that "
        "explains the network must fall apart; one that stays is showing the image."
    )
    chosen = chosen_methods("Methods to check", list(SANITY_METHODS), "saliency.sanity_methods")
    if not chosen:
        return
    side = model.config.input_resolution
    options = MethodOptions(layer=layer, relu=relu)
    with st.spinner("Randomising the network, stage by stage…"):
        check = sanity(model, model_key(model), image, image_digest(image), tuple(chosen), target, options)
    strip = sanity_strip(check, shown, opacity, colormap)
    st.image(
        strip, caption=f"Trained, then randomised head → stem ({check.seconds:.1f} s at {side} px)", width="stretch"
    )
    for line in sanity_verdict(check, has_relu_modules(model.built.module)):
        st.markdown(line)
    st.plotly_chart(sanity_figure(check), key="saliency.sanity_chart")
    table(sanity_rows(check), hide_index=True)
    st.download_button("Strip PNG", png_bytes(strip), "sanity-strip.png", "image/png", key="saliency.strip_png")


def curves_section(model: ExplainableModel, image: Any, target: int, layer: str, relu: bool) -> None:
    """Deletion and insertion curves of the chosen methods and a random map, with their areas."""
    st.subheader("Faithfulness: deletion and insertion curves")
    st.caption(
        "Petsiuk et al. (2018): remove the most salient pixels first (set to the data's mean colour) and watch the "
        "class's probability fall, or start from a blurred picture and reveal them. A faithful map falls faster and "
        "rises faster than a random one. Deletion puts grey dots where no training picture had them, and a small "
        "model can lose its answer to a few per cent of them wherever they are: read it beside the random map."
    )
    default = [Method.GRADCAM, Method.GRADIENTS, Method.INTEGRATED_GRADIENTS]
    chosen = chosen_methods("Maps to test", default, "saliency.curve_methods")
    if not chosen:
        return
    options = MethodOptions(layer=layer, relu=relu)
    with st.spinner("Deleting and inserting pixels…"):
        pairs = faithfulness(model, model_key(model), image, image_digest(image), tuple(chosen), target, options)
    st.plotly_chart(curves_figure(pairs), key="saliency.curves_chart")
    table(curves_rows(pairs), hide_index=True)
