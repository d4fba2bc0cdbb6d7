"""Inside: what each layer computes on a picture (its feature maps) and how far a unit of it
really looks (its effective receptive field), for any design and its weights."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.features import depth_layers
from pages._inside.field import field_section
from pages._inside.maps import maps_section
from pages._inside.state import W
from pages._inside.weights import weights_controls
from pages._shared.architecture import architecture_controls
from pages._shared.inputs import ImageSource, image_picker, image_source

config = architecture_controls()
st.title(f"Inside: {config.query}")
st.caption(
    "Every channel of a layer's output on one picture (as CNN Explainer shows for its one network, here for "
    "yours), and the effective receptive field of the layer's centre unit (Luo et al., NeurIPS 2016)."
)

controls, results = st.columns([1, 2], gap="large")
with controls:
    st.subheader("Image")
    image = image_picker("inside", list(ImageSource), 128)
    st.subheader("Weights")
    model = weights_controls(config, photo=image_source("inside") is not ImageSource.SHAPE)

if image is None or model is None:
    with results:
        st.info("Choose an image and weights on the left to see what each layer computes.")
    st.stop()

with controls:
    st.subheader("Layer")
    layers = depth_layers(model.built)
    labels = {layer.name: layer.label for layer in layers}
    layer = st.select_slider(
        "Layer along the depth",
        list(labels),
        value=list(labels)[-1],
        format_func=labels.get,
        key=W.layer.at(model.config.query),
        help="The stem, then every block of every stage (a stage without blocks: its last module)",
    )

with results:
    seen = maps_section(model, image, layer)
    field_section(model, seen.image, image, layer)
