"""Deformable: where a deformable conv samples, before and after its offsets are learned.
The parts live in ``pages/_deform/``."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.deform import offset_fields
from explorer.knobs import query_to_dict
from pages._deform.state import W
from pages._deform.views import location_controls, results
from pages._deform.weights import OPENING_QUERY, deformable_names, weights_controls
from pages._shared.architecture import architecture_controls, current_config
from pages._shared.inputs import ImageSource, image_picker


def use_default() -> None:
    st.query_params.from_dict(query_to_dict(OPENING_QUERY))


if not st.query_params.to_dict() and current_config() is None:
    use_default()  # a first visit starts on a config that has deformable layers
config = architecture_controls()
st.title(f"Deformable convolution: {config.query}")
st.caption(
    "A deformable conv predicts an offset (dy, dx) for each of its k×k taps at every output location "
    "(its own zero-initialised offset conv), then samples the input at p0 + pn + Δpn by bilinear interpolation. "
    "Untrained, the offsets are zero: the regular grid. Train on rotated, rescaled shapes and watch the grid bend."
)
if not deformable_names(config.query):
    st.warning(f"{config.query} has no deformable layers.")
    st.button(f"Use {OPENING_QUERY}", key=W.use_default.key, on_click=use_default, type="primary")
    st.caption("Or turn on **deform** in the sidebar (ResNets: the stages whose 3×3 convs become deformable).")
    st.stop()

controls, shown = st.columns([1, 2], gap="large")
with controls:
    st.subheader("Weights")
    models = weights_controls(config)
if models is None:
    shown.info("Choose weights on the left to see the sampling points.")
    st.stop()
before_model, after_model = models
with controls:
    st.subheader("Image")
    side = after_model.config.input_resolution
    image = image_picker("deform", [ImageSource.SHAPE, ImageSource.SAMPLE, ImageSource.UPLOAD], side, "square", 3)
if image is None:
    shown.info("Choose an image on the left.")
    st.stop()

before = offset_fields(before_model.built, image, before_model.mean, before_model.std)
after = offset_fields(after_model.built, image, after_model.mean, after_model.std)
with controls:
    st.subheader("Location")
    location = location_controls(after, after_model.config.query)
with shown:
    results(before, after, after_model, location, before_model)
