"""The Inside page's weights: cached ImageNet weights, EfficientNet-Lite0 from its package, a shipped
model, an uploaded checkpoint, or fresh (untrained) weights; the sidebar's own design first."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.features import fresh_model
from explorer.config import parse_query
from explorer.knobs import ConfigError, ModelConfig
from explorer.runtime.packaged import packaged_lite0
from explorer.runtime.shipped import same_architecture, shipped_for
from explorer.runtime.weights import ExplainableModel, WeightsError, pretrained_info
from explorer.views.inside import WEIGHTS_LABELS, LayerWeights
from pages._inside.state import W
from pages._shared.device import current_device
from pages._shared.inputs import uploaded_checkpoint
from pages._shared.shipped import shipped_model
from pages._shared.trained import imagenet_model, lite0_model

IMAGENET, LITE0, SHIPPED = LayerWeights.IMAGENET, LayerWeights.LITE0, LayerWeights.SHIPPED
CHECKPOINT, FRESH = LayerWeights.CHECKPOINT, LayerWeights.FRESH


@st.cache_resource(max_entries=4, show_spinner=False)
def fresh(query: str, device: str) -> ExplainableModel:
    """Untrained weights drawn from seed 0, shared (every analysis here only reads them)."""
    return fresh_model(parse_query(query), device)


@st.cache_data(max_entries=64, show_spinner=False)
def shipped_matches(query: str) -> tuple[bool, bool]:
    """(a shipped model of the config's family exists, it has exactly the config's architecture)."""
    config = parse_query(query)
    shipped = shipped_for(config)
    return shipped is not None, shipped is not None and same_architecture(shipped.config, config)


def choices(config: ModelConfig, photo: bool) -> list[LayerWeights]:
    """Weights of the sidebar's own design first (cached ImageNet weights, the Lite0 package for
    Lite0, a shipped model of exactly this architecture; a shape: the family's shipped model), then
    its fresh weights, then another design's trained weights (Lite0 for a photo) and a checkpoint:
    the page is about *this* design's layers."""
    info = pretrained_info(config)
    lite = packaged_lite0()
    family_shipped, same = shipped_matches(config.query)
    own = [IMAGENET] if info is not None and info.cached else []
    if lite.available and config == lite.config:
        own.append(LITE0)
    if same or (family_shipped and not photo):
        own.append(SHIPPED)
    others = [LITE0] if lite.available and LITE0 not in own else []
    others += [SHIPPED] if family_shipped and SHIPPED not in own else []
    return [*own, FRESH, *others, CHECKPOINT]


def weights_controls(config: ModelConfig, photo: bool) -> ExplainableModel | None:
    """The model whose layers the page shows (None, with the reason, while there is none)."""
    offered = choices(config, photo)
    source = st.radio(
        "Weights", offered, format_func=WEIGHTS_LABELS.get, key=W.weights.at("-".join(c.value for c in offered))
    )
    device = current_device()
    try:
        if source is IMAGENET:
            return imagenet_model(config.query, device)
        if source is LITE0:
            if config != packaged_lite0().config:
                st.caption(f"EfficientNet-Lite0 from its package (`{config.query}` has no ImageNet weights here).")
            return lite0_model(device)
        if source is SHIPPED:
            shipped = shipped_for(config)
            assert shipped is not None
            if shipped.query != config.query:
                st.caption(f"The shipped {config.family} model is `{shipped.query}` (its own size).")
            return shipped_model(shipped.name, device)
        if source is CHECKPOINT:
            return uploaded_checkpoint("inside", config)
        st.caption("Untrained weights (PyTorch's initialisation, seed 0): the maps show what random filters do.")
        return fresh(config.query, device)
    except (WeightsError, ConfigError, ValueError) as error:
        st.error(str(error))
        return None
