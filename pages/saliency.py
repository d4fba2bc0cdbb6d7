"""Saliency: Grad-CAM on an uploaded, sampled, photographed or generated image, always saying whose weights."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.saliency import default_layer, explain_every_stage, explain_image, target_layers
from explorer.analysis.training import TrainSpec, shapes_settings, shapes_source, train_on_shapes
from explorer.data.images import image_digest
from explorer.knobs import ConfigError, ModelConfig
from explorer.runtime.packaged import packaged_lite0
from explorer.runtime.shipped import ShippedModel, shipped_for
from explorer.runtime.weights import ExplainableModel, WeightsError, pretrained_info, with_imagenet_weights
from explorer.views.overlay import COLORMAPS, colorize, overlay, png_bytes
from explorer.views.training import step_text
from explorer.views.weights import SALIENCY_LABELS, WeightsSource
from pages._saliency.methods import curves_section, methods_section, sanity_section
from pages._shared.architecture import architecture_controls
from pages._shared.device import bf16_toggle, current_device
from pages._shared.inputs import ImageSource, image_picker, image_source, uploaded_checkpoint
from pages._shared.queue import slow_work
from pages._shared.shipped import shipped_model, warm_start
from pages._shared.state import SALIENCY_MODEL, KeyedModel
from pages._shared.tables import table
from pages._shared.trained import imagenet_model, lite0_model

SHIPPED, IMAGENET, LITE0 = WeightsSource.SHIPPED, WeightsSource.IMAGENET, WeightsSource.LITE0
CHECKPOINT, TRAINED = WeightsSource.CHECKPOINT, WeightsSource.TRAINED
#: "Train on shapes" default budget. On the 2-core CPU it is not enough to reach 80% from scratch
#: (issue 16 measured 22% for ResNet-20 in 45 s; the shipped ResNet-8 needed 2,000 steps, 15 min under
#: load, for 96%), so a config that matches a shipped model warm-starts from its weights (``warm_start``).
TRAIN_SECONDS = 45


def weights_choices(config: ModelConfig, shipped: ShippedModel | None, photo: bool = True) -> list[WeightsSource]:
    """The weight sources, the default first. A photo: a real ImageNet model on this machine (the
    sidebar's model's cached ImageNet weights, else EfficientNet-Lite0 from its package); a shape: the
    shipped model of the sidebar's family (offline, nothing to click); then ImageNet (a download)."""
    info = pretrained_info(config)
    imagenet = [IMAGENET] if info is not None else []
    lite = [LITE0] if packaged_lite0().available else []
    own = [SHIPPED] if shipped is not None else []
    if not photo:
        return [*own, *imagenet, CHECKPOINT, TRAINED, *lite]
    if info is not None and info.cached:
        return [IMAGENET, *lite, *own, CHECKPOINT, TRAINED]
    return [*lite, *own, *imagenet, CHECKPOINT, TRAINED]


def weights_controls(config: ModelConfig, photo: bool) -> ExplainableModel | None:
    info = pretrained_info(config)
    shipped = shipped_for(config)
    choices = weights_choices(config, shipped, photo)
    radio_key = f"saliency.weights.{'-'.join(c.value for c in choices)}"
    source = st.radio("Weights", choices, format_func=SALIENCY_LABELS.get, key=radio_key)
    if info is None:
        st.caption("ImageNet weights exist for torchvision's own models: pick one of their presets to use them.")
    elif not info.cached and source is not IMAGENET:
        st.caption(
            f"ImageNet weights for {info.model_name} are not in the torch cache: pick **{SALIENCY_LABELS[IMAGENET]}** "
            "to download them."
        )
    device = current_device()
    try:
        if source is LITE0:
            if config != packaged_lite0().config:
                st.caption(
                    f"A photo is explained by a real ImageNet classifier: EfficientNet-Lite0 from its package "
                    f"(`{config.query}` has no ImageNet weights on this machine)."
                )
            return lite0_model(device)
        if source is SHIPPED:
            assert shipped is not None
            if shipped.query != config.query:
                st.caption(
                    f"The shipped {config.family} model is `{shipped.query}` (the sidebar's family; its own size)."
                )
            return shipped_model(shipped.name, device)
        if source is IMAGENET:
            assert info is not None  # IMAGENET is offered only where torchvision has weights
            if not info.cached and st.button(f"Download {info.model_name} weights", key="saliency.download"):
                bar = st.progress(0.0, text="Downloading…")
                with_imagenet_weights(config, device, download=True, progress=lambda f: bar.progress(f))
            return imagenet_model(config.query, device)
        if source is CHECKPOINT:
            model = uploaded_checkpoint("saliency", config)
            if model is not None:  # the Deformable page may reuse the model in use here
                SALIENCY_MODEL.set(KeyedModel(("checkpoint", config.query), model))
            return model
        key: tuple[str, ...] = ("trained", config.query)
        seconds = st.slider("Training time budget (s)", 10, 300, TRAIN_SECONDS, 5, key="saliency.budget")
        bf16 = bf16_toggle("saliency")
        start = warm_start(config, device)
        if start is not None:
            st.caption(f"Training starts from the {start.weights} (the same architecture).")
        if st.button("Train on shapes", key="saliency.train", type="primary"):
            bar = st.progress(0.0, text="Training…")
            with slow_work("Training"):  # the server's slow-work queue: the place in line shown
                spec = TrainSpec(
                    model=shapes_source(config, start=start),
                    settings=shapes_settings(start is not None, autocast=bf16),
                    seconds=seconds,
                    device=device,
                    callbacks=(lambda r: bar.progress(min(1.0, r.elapsed_s / seconds), text=step_text(r)),),
                )
                trained = train_on_shapes(spec).model
            SALIENCY_MODEL.set(KeyedModel(key, trained))
        kept = SALIENCY_MODEL.get()
        if kept is not None and kept.key == key:
            return kept.model
        st.info("Press **Train on shapes**: the model learns the shapes data set, then Grad-CAM shows where it looks.")
        return None
    except (WeightsError, ConfigError, ValueError) as error:
        st.error(str(error))
        return None


config = architecture_controls()
st.title(f"Saliency: {config.query}")
st.caption(
    "Grad-CAM (captum's LayerGradCam): which parts of the image raised the chosen class's score at a layer. Below: "
    "captum's other methods side by side, the sanity check that tells them apart, and how faithful each map is."
)

controls, results = st.columns([1, 2], gap="large")
with controls:
    st.subheader("Image")
    image = image_picker("saliency", list(ImageSource), 128)
    st.subheader("Weights")
    model = weights_controls(config, photo=image_source("saliency") is not ImageSource.SHAPE)

if image is None or model is None:
    with results:
        st.info("Choose an image and weights on the left to see the saliency map.")
    st.stop()

with controls:
    st.subheader("Grad-CAM")
    layers = target_layers(model.built)
    names = [layer.name for layer in layers]
    layer = st.selectbox(
        "Layer",
        names,
        index=names.index(default_layer(model.built)),
        format_func=lambda n: f"{n} ({next(t.stage for t in layers if t.name == n)})",
        key=f"saliency.layer.{model.config.query}",
    )
    relu = st.toggle("ReLU on the map (positive evidence only)", value=True, key="saliency.relu")
    opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.5, 0.05, key="saliency.opacity")
    colormap = st.selectbox("Colour map", COLORMAPS, key="saliency.colormap")

with results:
    st.caption(f"Weights: {model.weights}")
    first = explain_image(model, image, layer=layer, relu=relu)
    options = [index for index, _ in first.cam.top]
    class_name = model.class_name
    target = st.selectbox(
        "Explain class",
        options,
        format_func=lambda i: f"{class_name(i)} (#{i})",
        key=f"saliency.target.{model.config.query}.{image_digest(image)}",  # a new picture: its own top class
        help="Default: the top prediction",
    )
    result = first if target == first.cam.target else explain_image(model, image, layer=layer, target=target, relu=relu)
    heat = result.cam.normalised()
    picture = overlay(result.image, heat, opacity, colormap)
    columns = st.columns(3)
    columns[0].image(result.image, caption="What the model sees", width="stretch")
    peak_row, peak_column = result.cam.peak()
    columns[1].image(
        colorize(heat, colormap),
        caption=f"Grad-CAM at {result.cam.layer}, peak at x {peak_column}, y {peak_row}",
        width="stretch",
    )
    columns[2].image(picture, caption=f"Overlay: {model.class_name(result.cam.target)}", width="stretch")
    downloads = st.columns(2)
    downloads[0].download_button("Heatmap PNG", png_bytes(colorize(heat, colormap)), "gradcam.png", "image/png")
    downloads[1].download_button("Overlay PNG", png_bytes(picture), "gradcam-overlay.png", "image/png")
    table({"class": [n for n, _ in result.top], "probability": [p for _, p in result.top]}, hide_index=True)
    if st.toggle("Grad-CAM at every stage", key="saliency.strip"):
        strip = explain_every_stage(model, image, target=result.cam.target, relu=relu)
        cells = st.columns(len(strip))
        for cell, cam in zip(cells, strip, strict=True):
            cell.image(
                overlay(result.image, cam.normalised(), opacity, colormap),
                caption=f"{cam.layer} ({cam.raw.shape[0]}×{cam.raw.shape[1]})",
                width="stretch",
            )

# Full width below: the strip is for a projector.
st.divider()
checks = st.columns(3)
compare = checks[0].toggle("Methods side by side", key="saliency.compare")
check = checks[1].toggle("Sanity check", key="saliency.sanity")
faithful = checks[2].toggle("Deletion and insertion", key="saliency.curves")
target, shown = result.cam.target, result.image
if compare:
    methods_section(model, image, shown, target, layer, relu, opacity, colormap)
if check:
    sanity_section(model, image, shown, target, layer, relu, opacity, colormap)
if faithful:
    curves_section(model, image, target, layer, relu)
