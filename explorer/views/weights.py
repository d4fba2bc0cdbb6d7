"""Where a page's weights come from, and how each page says it. No torch, no streamlit."""

from __future__ import annotations

import enum


class WeightsSource(enum.Enum):
    """A choice of weights on the Saliency and Deformable pages (each page labels its own)."""

    SHIPPED = "shipped"
    IMAGENET = "imagenet"
    LITE0 = "lite0"
    CHECKPOINT = "checkpoint"
    TRAINED = "trained"
    SALIENCY = "saliency"


SALIENCY_LABELS = {
    WeightsSource.SHIPPED: "Shipped model (trained on shapes)",
    WeightsSource.IMAGENET: "ImageNet weights",
    WeightsSource.LITE0: "ImageNet: EfficientNet-Lite0 (offline)",
    WeightsSource.CHECKPOINT: "Uploaded checkpoint",
    WeightsSource.TRAINED: "Trained here on shapes",
}
DEFORM_LABELS = {
    WeightsSource.SHIPPED: "Shipped model (offsets learned)",
    WeightsSource.TRAINED: "Trained here on shapes",
    WeightsSource.CHECKPOINT: "Uploaded checkpoint",
    WeightsSource.SALIENCY: "The Saliency page's model",
}
