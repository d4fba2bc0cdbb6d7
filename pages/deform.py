"""Deformable: where a deformable conv samples, before and after its offsets are learned."""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.analysis.deform import (
    DEFAULT_QUERY,
    LEARNING_RATE,
    SPREAD_IMAGES,
    config_deformable_layers,
    offset_fields,
    spread_against_size,
    stacked_points,
    train_offsets,
    untrained_copy,
)
from explorer.analysis.training import WARM_START_LR
from explorer.knobs import ConfigError, query_to_dict
from explorer.runtime.shipped import ShippedModel, shipped_deformable, shipped_for
from explorer.runtime.weights import ExplainableModel, WeightsError
from explorer.views.deform import (
    magnitude_bars,
    map_heatmap,
    quiver_figure,
    sampling_figure,
    spread_answer,
    spread_figure,
    stacked_figure,
)
from pages._shared.architecture import architecture_controls, current_config
from pages._shared.device import bf16_toggle, current_device
from pages._shared.inputs import image_picker, uploaded_checkpoint
from pages._shared.queue import slow_work
from pages._shared.shipped import shipped_model, warm_start
from pages._shared.state import DEFORM_MODELS, SALIENCY_MODEL, ModelPair
from pages._shared.tables import table

TRAINED, SALIENCY, CHECKPOINT = "Trained here on shapes", "The Saliency page's model", "Uploaded checkpoint"
SHIPPED = "Shipped model (offsets learned)"
#: Said beside "Train on shapes" when no shipped model has the config's architecture (measured in
#: issue 16 on the 2-core CPU: the default 30 steps from scratch reached 16 %, offsets still noise).
FROM_SCRATCH_NOTE = (
    "No shipped model has this architecture, so training starts from scratch: on a laptop CPU the "
    "default 30 steps leave the net near chance and its offsets close to noise (a few hundred steps, "
    "or a GPU, are needed). The shipped models' architectures start from their learned weights instead."
)
#: The model a first visit opens on: the shipped deformable model (offsets learned), if there is one.
OPENING: ShippedModel | None = shipped_deformable()
OPENING_QUERY = OPENING.trained_query if OPENING is not None else DEFAULT_QUERY


@st.cache_data(max_entries=8, show_spinner=False)
def spread_study(_model: ExplainableModel, key: tuple[str, ...], layer: str) -> dict:
    """The spread-against-size study of ``layer`` (cached per model key and layer)."""
    study = spread_against_size(_model.built, layer, mean=_model.mean, std=_model.std)
    return {
        "sizes": study.sizes,
        "spreads": study.spreads,
        "regular": study.regular_spread,
        "rho": study.rho,
        "n": study.n,
    }


@st.cache_data(max_entries=64, show_spinner=False)
def deformable_names(query: str) -> list[str]:
    from explorer.config import parse_query

    return [layer.name for layer in config_deformable_layers(parse_query(query))]


def _use_default() -> None:
    st.query_params.from_dict(query_to_dict(OPENING_QUERY))


if not st.query_params.to_dict() and current_config() is None:
    _use_default()  # a first visit starts on a config that has deformable layers
config = architecture_controls()
st.title(f"Deformable convolution: {config.query}")
st.caption(
    "A deformable conv predicts an offset (dy, dx) for each of its k×k taps at every output location "
    "(its own zero-initialised offset conv), then samples the input at p0 + pn + Δpn by bilinear interpolation. "
    "Untrained, the offsets are zero: the regular grid. Train on rotated, rescaled shapes and watch the grid bend."
)
if not deformable_names(config.query):
    st.warning(f"{config.query} has no deformable layers.")
    st.button(f"Use {OPENING_QUERY}", key="deform.use_default", on_click=_use_default, type="primary")
    st.caption("Or turn on **deform** in the sidebar (ResNets: the stages whose 3×3 convs become deformable).")
    st.stop()


def with_zero_offsets(after: ExplainableModel) -> tuple[ExplainableModel, ExplainableModel]:
    """(before, after): ``after`` and a copy of it whose offset convs are zero, made once per model."""
    key = ("zeroed", id(after))
    pair = DEFORM_MODELS.get()
    if pair is None or pair.key != key:
        before = ExplainableModel(
            untrained_copy(after.built), "the same model with zero offsets", mean=after.mean, std=after.std
        )
        pair = ModelPair(key, before, after)
        DEFORM_MODELS.set(pair)
    return pair.before, pair.after


def weights_controls() -> tuple[ExplainableModel, ExplainableModel] | None:
    """(before, after): the same network with zero offsets and with learned ones."""
    shared = SALIENCY_MODEL.get()
    saliency = None if shared is None else shared.model
    usable = saliency is not None and deformable_names(saliency.config.query)
    shipped = shipped_for(config)
    shipped = shipped if shipped is not None and shipped.deformable else None
    choices = ([SHIPPED] if shipped else []) + [TRAINED, CHECKPOINT] + ([SALIENCY] if usable else [])
    source = st.radio("Weights", choices, key=f"deform.weights.{bool(shipped)}")
    device = current_device()
    try:
        if source == SHIPPED:
            assert shipped is not None
            if shipped.trained_query != config.query:
                st.caption(f"The shipped {config.family} model with deformable stages is `{shipped.query}`.")
            return with_zero_offsets(shipped_model(shipped.name, device))
        if source == SALIENCY:
            st.caption(f"{saliency.config.query}: {saliency.weights}")
            return with_zero_offsets(saliency)
        if source == CHECKPOINT:
            after = uploaded_checkpoint("deform", config)
            return None if after is None else with_zero_offsets(after)
        start = warm_start(config, device)
        if start is not None:
            side = start.built.config.input_resolution
            st.caption(f"Training starts from the {start.weights} (the same architecture), at its {side} px.")
        else:
            st.caption(FROM_SCRATCH_NOTE)
        steps = st.slider(
            "Training steps", 1, 300, 30, key="deform.steps",
            help=f"Adam, batch 16, shapes at {start.built.config.input_resolution if start else 32} px",
        )
        seed = st.number_input("Seed (weights and data)", 0, 10_000, 0, key="deform.seed")
        bf16 = bf16_toggle("deform")
        if st.button("Train on shapes", key="deform.train", type="primary"):
            bar = st.progress(0.0, text="Training…")
            with slow_work("Training"):  # the server's slow-work queue: the place in line shown
                pair = train_offsets(
                    config,
                    steps,
                    device,
                    seed=int(seed),
                    progress=lambda k, n, loss: bar.progress(k / n, text=f"step {k}/{n}: loss {loss:.3f}"),
                    autocast=bf16,
                    start=start,
                    lr=WARM_START_LR if start is not None else LEARNING_RATE,
                )
            DEFORM_MODELS.set(ModelPair(("trained", config.query), pair.before, pair.after))
        kept = DEFORM_MODELS.get()
        if kept is not None and kept.key == ("trained", config.query):
            return kept.before, kept.after
        untrained = train_offsets(config, 0, device, seed=int(seed)).before
        st.info("Untrained: every offset is zero. Press **Train on shapes** to learn them.")
        return untrained, untrained
    except (WeightsError, ConfigError, ValueError) as error:
        st.error(str(error))
        return None


controls, results = st.columns([1, 2], gap="large")
with controls:
    st.subheader("Weights")
    models = weights_controls()
if models is None:
    with results:
        st.info("Choose weights on the left to see the sampling points.")
    st.stop()
before_model, after_model = models
with controls:
    st.subheader("Image")
    image = image_picker(
        "deform", ["Generated shape", "Sample", "Upload"], after_model.config.input_resolution, "square", 3
    )
if image is None:
    with results:
        st.info("Choose an image on the left.")
    st.stop()

before = offset_fields(before_model.built, image, before_model.mean, before_model.std)
after = offset_fields(after_model.built, image, after_model.mean, after_model.std)

with controls:
    st.subheader("Location")
    names = after.names
    layer = st.selectbox(
        "Layer",
        names,
        index=len(names) - 1,
        format_func=lambda n: (
            f"{n} ({after.fields[n].out_size[0]}×{after.fields[n].out_size[1]}, "
            f"stride {after.fields[n].input_stride:g}→{after.fields[n].output_stride:g})"
        ),
        key=f"deform.layer.{after_model.config.query}",
    )
    field = after.fields[layer]
    h, w = field.out_size
    row_key, col_key = f"deform.row.{layer}.{h}", f"deform.col.{layer}.{w}"
    st.session_state.setdefault(row_key, h // 2)
    st.session_state.setdefault(col_key, w // 2)
    i = st.slider("Output row", 0, h - 1, key=row_key)
    j = st.slider("Output column", 0, w - 1, key=col_key)
    st.caption("Or click a location on the right-hand picture.")


def _clicked(chart_key: str) -> None:
    points = st.session_state[chart_key].selection.points
    picked = [p.get("customdata") for p in points if p.get("customdata")]
    if picked:
        st.session_state[row_key], st.session_state[col_key] = int(picked[0][0]), int(picked[0][1])


def sampling_pictures(view, title: str, clickable: bool) -> None:
    f = view.fields[layer]
    grid = np.stack(np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), axis=-1).reshape(-1, 2)
    figure = sampling_figure(
        view.image,
        f.image_points(i, j, deformed=False),
        f.image_points(i, j),
        f.location_pixel(i, j),
        f.layer.kernel,
        offsets=f.tap_offsets(i, j),
        mask=f.mask_at(i, j),
        candidates=grid * f.output_stride if clickable else None,
        candidate_ids=[tuple(map(int, c)) for c in grid] if clickable else None,
        title=title,
    )
    if clickable:
        key = "deform.chart"
        st.plotly_chart(figure, key=key, on_select=lambda: _clicked(key), selection_mode="points")
    else:
        st.plotly_chart(figure, key="deform.chart_before")


with results:
    st.caption(f"Weights: {after_model.weights}")
    if after.fields[layer].magnitude().max() > 0:
        study = spread_study(after_model, (after_model.weights, after_model.config.query), layer)
        st.subheader(spread_answer(layer, study["rho"]))
        st.plotly_chart(
            spread_figure(
                study["sizes"],
                study["spreads"],
                study["regular"],
                f"{layer}: spread of its sampling points on the object, {study['n']} held-out shapes",
            ),
            key="deform.spread",
        )
        st.caption(
            f"Measured now on {SPREAD_IMAGES} shapes of a held-out seed: for each, the RMS distance of the layer's "
            "sampling points from their centre (image px), averaged over the output locations on the shape, "
            "against the square root of the shape's area. The dashed line is the regular grid (zero offsets)."
        )
    tabs = st.tabs(["Sampling points", "Points of points", "Offset field", "Mask (DCNv2)", "Per layer"])
    with tabs[0]:
        left, right = st.columns(2)
        with left:
            sampling_pictures(before, f"Before training: {layer} at ({i}, {j})", clickable=False)
        with right:
            sampling_pictures(after, f"After: {layer} at ({i}, {j})", clickable=True)
        taps = field.tap_offsets(i, j) * field.input_stride
        taps_table = {
            "tap": list(range(len(taps))),
            "dy (image px)": taps[:, 0].round(3),
            "dx (image px)": taps[:, 1].round(3),
        }
        if field.mask is not None:
            taps_table["mask"] = field.mask_at(i, j).round(3)
        table(taps_table, hide_index=True)
    with tabs[1]:
        chain = after.chain(layer)
        deepest = min(3, len(chain))
        levels = (
            st.slider("Layers down the chain", 1, deepest, deepest, key=f"deform.levels.{deepest}")
            if deepest > 1
            else 1
        )
        st.caption(
            f"Each of {layer}'s sampling points is a location of the previous deformable layer, which samples "
            f"its own {field.layer.taps} points there, and so on: {field.layer.taps**levels} points "
            "for this location. Chain: " + " → ".join(chain[::-1][:levels])
        )
        labels = chain[::-1][:levels]
        left, right = st.columns(2)
        for column, view, title in ((left, before, "Before"), (right, after, "After")):
            column.plotly_chart(
                stacked_figure(
                    view.image,
                    stacked_points(view, layer, i, j, levels),
                    field.location_pixel(i, j),
                    labels,
                    f"{title}: {field.layer.taps**levels} points of points",
                ),
                key=f"deform.stacked.{title}",
            )
    with tabs[2]:
        taps_choice = st.selectbox(
            "Arrows show",
            [None, *range(field.layer.taps)],
            format_func=lambda t: "the mean offset of the taps" if t is None else f"tap {t}'s offset",
            key="deform.quiver_tap",
        )
        scale = st.slider("Arrow scale", 1.0, 10.0, 2.0, 0.5, key="deform.scale")
        origins, vectors = field.quiver(tap=taps_choice)
        left, right = st.columns(2)
        left.plotly_chart(
            quiver_figure(after.image, origins, vectors, scale, f"Offsets of {layer} (×{scale:g})"), key="deform.quiver"
        )
        magnitude = field.magnitude() * field.input_stride
        right.plotly_chart(
            map_heatmap(after.image, magnitude, field.output_stride, f"Mean |offset| of {layer}", "image px"),
            key="deform.magnitude",
        )
    with tabs[3]:
        if field.mask is None:
            st.info("This layer has no modulation mask (DCNv2): its samples all weigh 1.")
        else:
            st.plotly_chart(
                map_heatmap(
                    after.image, field.mask.mean(axis=0), field.output_stride, f"Mean mask of {layer}", "mask", 0, 1
                ),
                key="deform.mask",
            )
    with tabs[4]:
        rows_before, rows_after = before.summary(), after.summary()
        key = "mean |offset| (image px)"
        st.plotly_chart(
            magnitude_bars(
                after.names,
                {"before": [r[key] for r in rows_before], "after": [r[key] for r in rows_after]},
                "Mean offset length per deformable layer",
            ),
            key="deform.bars",
        )
        table(rows_after, hide_index=True)
