"""The effective receptive field on the Inside and Deformable pages: the centre unit's field over the
image with the theoretical square, and the field against depth with a sqrt(n) reference, alone or
beside a variant (skip connections off, fresh weights, plain convs instead of deformable ones)."""

from __future__ import annotations

import enum

import numpy as np
import streamlit as st
from PIL import Image

from explorer.analysis.erf import (
    SAMPLES,
    EffectiveField,
    effective_field,
    field_by_depth,
    image_inputs,
    noise_inputs,
)
from explorer.config import parse_query
from explorer.data.images import image_digest
from explorer.knobs import ModelConfig, query_to_dict
from explorer.runtime.shipped import same_architecture, shipped_for
from explorer.runtime.weights import ExplainableModel
from explorer.views.inside import depth_figure, field_figure, field_words
from pages._inside.maps import model_key
from pages._inside.state import W
from pages._inside.weights import fresh
from pages._shared.caches import cached_profile
from pages._shared.device import current_device
from pages._shared.shipped import shipped_model

NOISE, IMAGE = "Noise", "This image"
#: The field is drawn without asking below this many multiply-adds for its default inputs (MACs x
#: inputs; EfficientNet-Lite0 at 224 px: 3.2 G, ResNet-18: 15 G).
LIGHT_MACS = 4e9


class Compare(enum.Enum):
    """What the depth chart sets beside the model; the value is the choice's label."""

    NONE = "nothing"
    SKIP = "the same design with skip connections switched"
    FRESH = "the same design with fresh (untrained) weights"
    PLAIN = "the same design with plain convs instead of deformable ones"


@st.cache_data(max_entries=16, show_spinner=False)
def unit_field(
    _model: ExplainableModel,
    key: tuple[str, str],
    layer: str,
    samples: int,
    digest: str | None,
    _image: Image.Image | None,
) -> EffectiveField:
    """The centre unit's field over ``samples`` noise inputs (seed 0), or over the picture."""
    inputs = noise_inputs(_model.config, samples) if _image is None else image_inputs(_model, [_image])
    return effective_field(_model.built, inputs, layer)


@st.cache_data(max_entries=16, show_spinner=False)
def depth_fields(
    _model: ExplainableModel, key: tuple[str, str], samples: int, every_block: bool
) -> list[EffectiveField]:
    """The field at the end of every stage (or at every block), over ``samples`` noise inputs (seed 0)."""
    return field_by_depth(_model.built, noise_inputs(_model.config, samples), every_block)


def field_controls() -> tuple[str, int]:
    left, right = st.columns(2)
    inputs = left.radio("Inputs", [NOISE, IMAGE], horizontal=True, key=W.field_inputs.key)
    samples = right.slider("Noise inputs", 1, 32, SAMPLES, key=W.samples.key, disabled=inputs == IMAGE)
    return inputs, samples


def field_section(model: ExplainableModel, image: np.ndarray, picture: Image.Image, layer: str) -> None:
    """The unit's field over the image, and (on request) the field against depth. On by default for a
    light design only: the field costs about one forward and backward pass per input, and a slider
    move on ResNet-50 should redraw the maps in well under a second."""
    st.subheader("Effective receptive field")
    macs = cached_profile(model.config.query).macs
    light = macs * SAMPLES <= LIGHT_MACS
    shown_by_default = st.toggle(
        "Show the effective receptive field of the centre unit",
        value=light,
        key=W.field_on.at(model.config.query),
        help=f"One forward and one backward pass per input ({macs / 1e9:.2g} G MACs each way, per input)",
    )
    if not shown_by_default:
        st.caption(f"Off by default for a design of {macs / 1e9:.2g} G MACs: it takes seconds on a CPU.")
        return
    inputs, samples = field_controls()
    shown = picture if inputs == IMAGE else None
    with st.spinner("Gradients of the centre unit…"):
        field = unit_field(model, model_key(model), layer, samples, image_digest(picture) if shown else None, shown)
    h, w = field.cells
    over = f"{samples} standard-normal inputs" if shown is None else "this image"
    title = f"{layer}: unit ({field.unit[0]}, {field.unit[1]}) of {h}×{w}, over {over}"
    st.plotly_chart(field_figure(image, field, title), key=W.field_chart.key)
    st.caption(
        field_words(field) + " The map is the mean |∂(sum over channels of the unit) / ∂input| (Luo et al., 2016), "
        "drawn over the picture; the squares are centred on the field's centroid."
    )
    if st.toggle("The field against depth", key=W.depth.key):
        depth_section(model, samples)


def compared(model: ExplainableModel, choice: Compare) -> list[tuple[str, ExplainableModel]]:
    """The labelled models the depth chart draws: the model, and the variant ``choice`` asks for."""
    config, device = model.config, current_device()
    if choice is Compare.FRESH:
        return [("these weights", model), ("fresh weights", fresh(config.query, device))]
    skip = getattr(config, "skip", None)
    if choice is Compare.SKIP and isinstance(skip, bool):
        other = with_keys(config, skip="off" if skip else "on")
        on, off = (config, other) if skip else (other, config)
        return [("skip on (fresh)", fresh(on.query, device)), ("skip off (fresh)", fresh(off.query, device))]
    if choice is Compare.PLAIN and getattr(config, "deform", None):
        plain = with_keys(config, deform="off", modulated=None)
        return [("deformable", model), ("plain convs", trained_or_fresh(plain, model, device))]
    return [("this model", model)]


def with_keys(config: ModelConfig, **keys: str | None) -> ModelConfig:
    """``config`` with some keys of its query set (None: left out, the family's default)."""
    pairs = query_to_dict(config.query)
    for key, value in keys.items():
        if value is None:
            pairs.pop(key, None)
        else:
            pairs[key] = value
    return parse_query(pairs)


def trained_or_fresh(config: ModelConfig, like: ExplainableModel, device: str) -> ExplainableModel:
    """``config`` trained where the project ships a model of its architecture and ``like`` is trained,
    else fresh."""
    shipped = shipped_for(config)
    trained = not like.weights.startswith("fresh")
    if trained and shipped is not None and same_architecture(shipped.config, config):
        return shipped_model(shipped.name, device)
    return fresh(config.query, device)


def comparisons(model: ExplainableModel) -> list[Compare]:
    config = model.config
    found = [Compare.NONE]
    if hasattr(config, "skip"):
        found.append(Compare.SKIP)
    if not model.weights.startswith("fresh"):
        found.append(Compare.FRESH)
    if getattr(config, "deform", None):
        found.append(Compare.PLAIN)
    return found


def depth_section(model: ExplainableModel, samples: int) -> None:
    choice = st.selectbox("Beside it", comparisons(model), format_func=lambda c: c.value, key=W.compare.key)
    every_block = st.toggle(
        "Every block, not only the end of every stage",
        key=W.every_block.key,
        help="Each place costs a backward pass down to the input: a deep network takes a while",
    )
    models = compared(model, choice)
    with st.spinner("The field along the depth…"):
        curves = [(label, depth_fields(m, model_key(m), samples, every_block)) for label, m in models]
    st.plotly_chart(
        depth_figure(curves, f"Effective RMS radius of the centre unit, {samples} noise inputs"),
        key=W.depth_chart.key,
    )
    for (label, fields), (_, m) in zip(curves, models, strict=True):
        st.caption(f"**{label}**: {field_words(fields[-1])} Weights: {m.weights}.")
    st.caption(
        "Luo et al. (2016): the effective radius grows like √n with n stacked convolutions while the theoretical "
        "side grows like n, so a deep plain stack uses a shrinking share of its theoretical field; downsampling "
        "and dilation enlarge it, and training enlarges it."
    )


def before_after_fields(
    before: ExplainableModel, after: ExplainableModel, image: np.ndarray, layer: str, keys: tuple[str, str]
) -> None:
    """The Deformable page's tab: the centre unit of ``layer`` on this picture, with the offsets set to
    zero (a plain conv of the same weights) and as learned, side by side."""
    picture = Image.fromarray(image)  # the crop the model saw: it enters unchanged but for normalisation
    digest = image_digest(picture)
    columns = st.columns(2)
    query, weights = model_key(after)
    cache_keys = ((query, f"{weights}, offsets set to zero"), (query, weights))  # the zeroed copy of *these* weights
    fields = []
    for column, model, cache_key, title, key in zip(
        columns, (before, after), cache_keys, ("Offsets zero", "Offsets learned"), keys, strict=True
    ):
        field = unit_field(model, cache_key, layer, 1, digest, picture)
        fields.append(field)
        figure = field_figure(image, field, f"{title}: {layer}", height=380, colorbar=False)
        column.plotly_chart(figure, key=key)
        column.caption(field_words(field))
    change = fields[1].rms_radius / fields[0].rms_radius if fields[0].rms_radius else float("nan")
    side = fields[1].theoretical.side
    if side and fields[1].side95 > side:
        st.caption(
            f"The learned field reaches past the graph's theoretical {side} px: that number counts the kernel's "
            "regular grid (and the offset conv's), while a learned offset can move a sample any distance."
        )
    st.caption(
        f"On this picture the learned offsets make the centre unit's effective RMS radius {change:.2f}× that of the "
        "same weights with zero offsets. Measured on 48 generated shapes (bench/bench_inside.py): the shipped "
        "deformable ResNet-8's last stage looks 1.8× as far as the shipped plain ResNet-8's (RMS radius 13.2 px "
        "against 7.2 px) and its field grows with the object (correlation with the shape's size 0.51, plain −0.04)."
    )
