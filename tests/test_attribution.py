"""Saliency methods side by side: each one is captum's, on the same weights as torchvision's own ResNet-18."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from captum.attr import (
    GuidedBackprop,
    GuidedGradCam,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
)

from explorer.analysis.attribution import (
    METHODS,
    Method,
    MethodOptions,
    attribute,
    attribute_all,
    cost,
    has_relu_modules,
    ig_batch,
    occlusion_geometry,
)
from explorer.config import parse_query
from explorer.runtime.models import build_seeded

SIDE = 64
TARGET = 3
WINDOW, STRIDE = 16, 8


@pytest.fixture(scope="module")
def pair(single_thread):
    """Our ResNet-18 preset with seeded weights, and torchvision's ResNet-18 holding the same state dict."""
    ours = build_seeded(parse_query("preset=resnet18"), seed=0)
    theirs = torchvision.models.resnet18()
    theirs.load_state_dict(ours.module.state_dict(), strict=True)
    return ours, theirs.eval()


@pytest.fixture(scope="module")
def image():
    return torch.randn(1, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(7))


def direct(model: torch.nn.Module, image: torch.Tensor, method: Method) -> np.ndarray:
    """captum called directly on torchvision's model, with captum's defaults."""
    x = image.clone().requires_grad_(True)
    if method is Method.GRADCAM:
        cam = LayerGradCam(model, model.layer4).attribute(x, target=TARGET, relu_attributions=True)
        return LayerAttribution.interpolate(cam, (SIDE, SIDE), interpolate_mode="bilinear")[0, 0].detach().numpy()
    if method is Method.GRADIENTS:
        out = Saliency(model).attribute(x, target=TARGET)
    elif method is Method.INTEGRATED_GRADIENTS:
        out = IntegratedGradients(model).attribute(x, target=TARGET)  # unbatched: ours runs batched
    elif method is Method.GUIDED_BACKPROP:
        out = GuidedBackprop(model).attribute(x, target=TARGET)
    elif method is Method.GUIDED_GRADCAM:
        out = GuidedGradCam(model, model.layer4).attribute(x, target=TARGET)
    else:
        out = Occlusion(model).attribute(
            x, target=TARGET, sliding_window_shapes=(3, WINDOW, WINDOW), strides=(3, STRIDE, STRIDE)
        )
    return out[0].detach().numpy()


@pytest.fixture(scope="module")
def expected(pair, image) -> dict[Method, np.ndarray]:
    """captum's own answer for every method, once per module."""
    return {method: direct(pair[1], image, method) for method in Method}


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")
def test_every_method_equals_captum_on_torchvisions_resnet18(pair, image, expected):
    ours, _ = pair
    options = MethodOptions(layer="layer4", window=WINDOW, stride=STRIDE)
    results = attribute_all(ours, image, list(Method), target=TARGET, options=options)
    assert [r.method for r in results] == list(Method)
    for result in results:
        theirs = expected[result.method]
        assert result.raw.shape == theirs.shape == ((3, SIDE, SIDE) if result.info.pixel else (SIDE, SIDE))
        assert np.abs(theirs).max() > 0, result.method  # a map with something in it
        assert pearson(result.raw, theirs) >= 0.99, result.method
        # same weights, same calls: equal up to float32 rounding
        np.testing.assert_allclose(result.raw, theirs, rtol=1e-3, atol=1e-4 * np.abs(theirs).max())
        assert result.heatmap.shape == (SIDE, SIDE)
        assert result.target == TARGET
    by_method = {r.method: r for r in results}
    np.testing.assert_allclose(by_method[Method.GRADIENTS].heatmap, np.abs(by_method[Method.GRADIENTS].raw).sum(0))
    assert by_method[Method.GRADCAM].layer == by_method[Method.GUIDED_GRADCAM].layer == "layer4"
    assert by_method[Method.GRADIENTS].layer is None


@pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")
def test_guided_backprop_differs_from_plain_gradients_where_there_are_relus(pair, image):
    ours, _ = pair
    gradients, guided = attribute_all(ours, image, [Method.GRADIENTS, Method.GUIDED_BACKPROP], target=TARGET)
    assert has_relu_modules(ours.module)
    assert pearson(np.abs(gradients.raw), np.abs(guided.raw)) < 0.9


@pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")
def test_the_model_comes_back_as_it_was(pair, image):
    ours, _ = pair
    model = ours.module.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    attribute_all(ours, image, [Method.GUIDED_BACKPROP, Method.GUIDED_GRADCAM], target=1)
    with pytest.raises(ValueError, match="target class 1000 is out of range"):
        attribute(ours, image, Method.GRADIENTS, target=1000)
    assert model.training and all(m.training for m in model.modules())
    for module in model.modules():
        assert not module._forward_hooks and not module._backward_hooks and not module._forward_pre_hooks
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    model.eval()


def test_default_target_is_the_top_class(pair, image):
    ours, _ = pair
    with torch.no_grad():
        top = int(ours.module.eval()(image).argmax())
    assert attribute(ours, image, Method.GRADIENTS).target == top


def test_integrated_gradients_batches_and_costs_in_words():
    assert ig_batch(50, 64, 64) == 50  # the whole path in one batch at the shapes' size
    assert ig_batch(50, 224, 224) == 16
    assert cost(Method.INTEGRATED_GRADIENTS, 224, 224) == (
        "50 forward and backward passes (one per step on the path), in 4 batches of up to 16"
    )
    assert occlusion_geometry(64, 64, None, None) == (8, 4)
    assert cost(Method.OCCLUSION, 64, 64) == "226 forward passes (a 8 px window every 4 px), no backward"
    with pytest.raises(ValueError, match="occlusion window 65 px must be between 1 and the image's side"):
        occlusion_geometry(64, 64, 65, None)
    assert all(info.computes.endswith(".") for info in METHODS.values())


def test_integrated_gradients_in_batches_equals_captums_unbatched_path(pair, image, expected):
    """At 224 px the app runs the 50 steps 16 at a time (at 64 px all 50 fit one batch, as captum's default
    runs them): batches of 7 give captum's unbatched answer to float32 rounding."""
    batched = attribute(pair[0], image, Method.INTEGRATED_GRADIENTS, TARGET, MethodOptions(internal_batch_size=7))
    theirs = expected[Method.INTEGRATED_GRADIENTS]
    assert pearson(batched.raw, theirs) >= 0.99
    np.testing.assert_allclose(batched.raw, theirs, rtol=1e-3, atol=1e-4 * np.abs(theirs).max())
