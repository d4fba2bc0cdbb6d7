"""The Inside page's feature maps: the layer's channels as one tiled picture (most active first),
one channel large and over the image, the layer's shape and per-channel statistics."""

from __future__ import annotations

import streamlit as st
from PIL import Image

from explorer.analysis.features import ImageFeatures, image_features
from explorer.data.images import image_digest
from explorer.runtime.weights import ExplainableModel
from explorer.views.inside import FIRST_CHANNELS, channel_grid, channel_over_image, channel_rows, normalised, upsampled
from explorer.views.overlay import COLORMAPS, colorize
from pages._inside.state import W
from pages._shared.tables import table


def model_key(model: ExplainableModel) -> tuple[str, str]:
    """What identifies a model's weights for the caches: its config and where its weights came from."""
    return model.config.query, model.weights


@st.cache_data(max_entries=16, show_spinner=False)
def layer_maps(
    _model: ExplainableModel, key: tuple[str, str], digest: str, layer: str, _image: Image.Image
) -> ImageFeatures:
    """:func:`image_features`, once per model, picture (by digest) and layer."""
    return image_features(_model, _image, layer)


def maps_section(model: ExplainableModel, image: Image.Image, layer: str) -> ImageFeatures:
    seen = layer_maps(model, model_key(model), image_digest(image), layer, image)
    features = seen.features
    channels, h, w = features.shape
    side = model.config.input_resolution
    st.subheader(f"{layer}: {channels:,} channels of {h}×{w}")
    st.caption(
        f"Weights: {model.weights}. The output of `{layer}` for the {side}×{side} px picture the model sees, "
        "each channel scaled to its own range; most active (largest mean) first."
    )
    order = [int(c) for c in features.order]
    show_all = channels > FIRST_CHANNELS and st.toggle(f"Show all {channels:,} channels", key=W.show_all.key)
    shown = order if show_all or channels <= FIRST_CHANNELS else order[:FIRST_CHANNELS]
    colormap = st.session_state.get(W.colormap.key, "Viridis")
    grid = channel_grid(features.maps, shown, colormap)
    st.image(grid.image, caption=f"{len(shown):,} of {channels:,} channels, row by row", width="stretch")
    left, right = st.columns([2, 1])
    channel = left.selectbox(
        "Open channel",
        order,
        format_func=lambda c: f"#{c} (mean {features.means[c]:.3g}, max {features.maxima[c]:.3g})",
        key=W.channel.at(model.config.query, layer),
    )
    opacity = right.slider("Opacity over the image", 0.0, 1.0, 0.6, 0.05, key=W.opacity.key)
    right.selectbox("Colour map", COLORMAPS, index=COLORMAPS.index("Viridis"), key=W.colormap.key)
    large, over = st.columns(2)
    values = features.maps[channel]
    large.image(
        colorize(normalised(upsampled(values, (side, side))), colormap),
        caption=f"Channel {channel} of {layer}, {h}×{w} enlarged to {side}×{side}",
        width="stretch",
    )
    over.image(
        channel_over_image(seen.image, values, opacity, colormap),
        caption=f"Channel {channel} over the image",
        width="stretch",
    )
    with st.expander(f"Per-channel statistics ({len(shown):,} channels shown)"):
        table(
            channel_rows(features.means, features.maxima, features.minima, features.stds, features.active, shown),
            hide_index=True,
        )
    return seen
