"""The Deformable page's weights: the same network with zero offsets (before) and with learned ones
(after), from a shipped model, a run trained here, a checkpoint or the Saliency page's model."""

from __future__ import annotations

import dataclasses

import streamlit as st

from explorer.analysis.deform import (
    DEFAULT_QUERY,
    config_deformable_layers,
    offsets_settings,
    offsets_source,
    train_offsets,
    untrained,
    untrained_copy,
)
from explorer.analysis.training import TrainSpec
from explorer.config import parse_query
from explorer.knobs import ConfigError, ModelConfig
from explorer.runtime.shipped import ShippedModel, shipped_deformable, shipped_for
from explorer.runtime.weights import ExplainableModel, WeightsError
from explorer.views.training import step_text
from explorer.views.weights import DEFORM_LABELS, WeightsSource
from pages._deform.state import W
from pages._shared.device import bf16_toggle, current_device
from pages._shared.inputs import uploaded_checkpoint
from pages._shared.queue import slow_work
from pages._shared.shipped import shipped_model, warm_start
from pages._shared.state import DEFORM_MODELS, SALIENCY_MODEL, ModelPair

Pair = tuple[ExplainableModel, ExplainableModel]
#: Said beside "Train on shapes" when no shipped model has the config's architecture (measured on the
#: 2-core CPU: the default 30 steps from scratch reached 16 %, the offsets still noise).
FROM_SCRATCH_NOTE = (
    "No shipped model has this architecture, so training starts from scratch: on a laptop CPU the "
    "default 30 steps leave the net near chance and its offsets close to noise (a few hundred steps, "
    "or a GPU, are needed). The shipped models' architectures start from their learned weights instead."
)
#: The model a first visit opens on: the shipped deformable model (offsets learned), if there is one.
OPENING: ShippedModel | None = shipped_deformable()
OPENING_QUERY = OPENING.trained_query if OPENING is not None else DEFAULT_QUERY


@st.cache_data(max_entries=64, show_spinner=False)
def deformable_names(query: str) -> list[str]:
    return [layer.name for layer in config_deformable_layers(parse_query(query))]


def with_zero_offsets(after: ExplainableModel) -> Pair:
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


def trained_here(config: ModelConfig, device: str) -> Pair:
    """A run trained on this page (from the shipped model of this architecture, if any), kept for the
    session; the untrained model until one is."""
    start = warm_start(config, device)
    if start is not None:
        side = start.built.config.input_resolution
        st.caption(f"Training starts from the {start.weights} (the same architecture), at its {side} px.")
    else:
        st.caption(FROM_SCRATCH_NOTE)
    steps = st.slider(
        "Training steps",
        1,
        300,
        30,
        key=W.steps.key,
        help=f"Adam, batch 16, shapes at {start.built.config.input_resolution if start else 32} px",
    )
    seed = int(st.number_input("Seed (weights and data)", 0, 10_000, 0, key=W.seed.key))
    bf16 = bf16_toggle("deform")
    settings = offsets_settings(start is not None, steps=steps, seed=seed, autocast=bf16)
    spec = TrainSpec(model=offsets_source(config, start), settings=settings, device=device)
    if st.button("Train on shapes", key=W.train.key, type="primary"):
        bar = st.progress(0.0, text="Training…")
        show = (lambda record: bar.progress(record.fraction, text=step_text(record)),)
        with slow_work("Training"):  # the server's slow-work queue: the place in line shown
            pair = train_offsets(dataclasses.replace(spec, callbacks=show))
        DEFORM_MODELS.set(ModelPair(("trained", config.query), pair.before, pair.after))
    kept = DEFORM_MODELS.get()
    if kept is not None and kept.key == ("trained", config.query):
        return kept.before, kept.after
    before = untrained(dataclasses.replace(spec, model=offsets_source(config)))  # fresh weights: zero offsets
    st.info("Untrained: every offset is zero. Press **Train on shapes** to learn them.")
    return before, before


def weights_controls(config: ModelConfig) -> Pair | None:
    """(before, after): the same network with zero offsets and with learned ones (None: none yet)."""
    shared = SALIENCY_MODEL.get()
    saliency = None if shared is None else shared.model
    usable = saliency is not None and deformable_names(saliency.config.query)
    shipped = shipped_for(config)
    shipped = shipped if shipped is not None and shipped.deformable else None
    choices = [
        *([WeightsSource.SHIPPED] if shipped else []),
        WeightsSource.TRAINED,
        WeightsSource.CHECKPOINT,
        *([WeightsSource.SALIENCY] if usable else []),
    ]
    source = st.radio("Weights", choices, format_func=DEFORM_LABELS.get, key=W.weights.at(bool(shipped)))
    device = current_device()
    try:
        if source is WeightsSource.SHIPPED and shipped is not None:
            if shipped.trained_query != config.query:
                st.caption(f"The shipped {config.family} model with deformable stages is `{shipped.query}`.")
            return with_zero_offsets(shipped_model(shipped.name, device))
        if source is WeightsSource.SALIENCY and saliency is not None:
            st.caption(f"{saliency.config.query}: {saliency.weights}")
            return with_zero_offsets(saliency)
        if source is WeightsSource.CHECKPOINT:
            after = uploaded_checkpoint("deform", config)
            return None if after is None else with_zero_offsets(after)
        return trained_here(config, device)
    except (WeightsError, ConfigError, ValueError) as error:
        st.error(str(error))
        return None
