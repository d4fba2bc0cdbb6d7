"""Grad-CAM through captum: same numbers as captum called directly, model left as it was."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam

from explorer.analysis.saliency import (
    default_layer,
    grad_cam,
    grad_cam_strip,
    peak_pixels,
    pointing_hits,
    target_layers,
)
from explorer.config import parse_query
from explorer.runtime.device import available_devices
from explorer.runtime.models import build_seeded


@pytest.fixture(scope="module", params=available_devices())
def resnet20(request):
    """ResNet-20 with seeded weights on each available device (see ``tests/conftest.py``)."""
    return build_seeded(parse_query("preset=resnet20"), seed=0, device=request.param)


def _device(built) -> torch.device:
    return next(built.module.parameters()).device


def test_heatmap_matches_captum_called_directly(resnet20):
    image = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)).to(_device(resnet20))
    result = grad_cam(resnet20, image, layer="layer2", target=3)
    model = resnet20.module.eval()
    direct = LayerGradCam(model, model.layer2).attribute(image, target=3, relu_attributions=True)
    upsampled = LayerAttribution.interpolate(direct, (32, 32), interpolate_mode="bilinear")
    np.testing.assert_allclose(result.heatmap, upsampled[0, 0].detach().cpu().numpy(), rtol=1e-4, atol=1e-6)
    assert result.raw.shape == (16, 16)
    assert result.target == 3


def test_default_target_is_the_top_prediction(resnet20):
    image = torch.randn(1, 3, 32, 32)
    result = grad_cam(resnet20, image)
    with torch.no_grad():
        top = int(resnet20.module.eval()(image.to(_device(resnet20))).argmax())
    assert result.target == top == result.top[0][0]
    assert len(result.top) == 5
    assert result.layer == default_layer(resnet20) == "layer3"


def test_maps_agree_with_the_cpu_on_every_device(resnet20):
    """The same weights give the same map everywhere (full float32): within 1e-3 of the map's peak."""
    image = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    here = grad_cam(resnet20, image, layer="layer2", target=1, relu=False)
    cpu = grad_cam(build_seeded(parse_query("preset=resnet20"), seed=0), image, layer="layer2", target=1, relu=False)
    scale = float(np.abs(cpu.heatmap).max())
    assert scale > 0
    np.testing.assert_allclose(here.heatmap, cpu.heatmap, atol=1e-3 * scale, rtol=0)
    assert [i for i, _ in here.top] == [i for i, _ in cpu.top]


def test_relu_off_keeps_negative_evidence(resnet20):
    image = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with_relu = grad_cam(resnet20, image, target=0, relu=True)
    without = grad_cam(resnet20, image, target=0, relu=False)
    assert with_relu.heatmap.min() >= 0
    assert without.heatmap.min() < 0


def test_one_target_layer_per_stage_skipping_empty_ones(resnet20):
    assert [(t.name, t.stage) for t in target_layers(resnet20)] == [
        ("relu", "stem"),
        ("layer1", "stage1"),
        ("layer2", "stage2"),
        ("layer3", "stage3"),
    ]


def test_strip_maps_sharpen_to_coarser_grids_with_depth(resnet20):
    strip = grad_cam_strip(resnet20, torch.randn(1, 3, 32, 32))
    assert [g.raw.shape for g in strip] == [(32, 32), (32, 32), (16, 16), (8, 8)]
    assert len({g.target for g in strip}) == 1


def test_model_comes_back_unchanged_even_after_an_error(resnet20):
    model = resnet20.module.train()
    with pytest.raises(ValueError, match="target class 99 is out of range; the model has 10 classes"):
        grad_cam(resnet20, torch.randn(1, 3, 32, 32), target=99)
    grad_cam(resnet20, torch.randn(1, 3, 32, 32))
    assert model.training
    for module in model.modules():
        assert not module._forward_hooks and not module._backward_hooks and not module._forward_pre_hooks
    model.eval()


def test_unknown_layer_is_a_clear_error(resnet20):
    with pytest.raises(ValueError, match="no layer 'layer9' in this model"):
        grad_cam(resnet20, torch.randn(1, 3, 32, 32), layer="layer9")


def _upsampled(cells: torch.Tensor, side: int) -> torch.Tensor:
    return LayerAttribution.interpolate(cells[:, None], (side, side), interpolate_mode="bilinear")[:, 0]


def test_a_border_cells_peak_is_its_centre_not_the_plateaus_first_pixel():
    """Bilinear upsampling holds a border cell's value flat out to the image's edge: argmax alone
    returns that plateau's first pixel, (0, 0) for the top-left cell of a 3x3 map at 96 px, half a
    cell from where the cell's evidence is; the peak is kept between the outer cell centres."""
    cells = torch.zeros(4, 3, 3)
    cells[0, 0, 0] = cells[1, 2, 2] = cells[2, 1, 1] = cells[3, 0, 1] = 1.0
    maps = _upsampled(cells, 96)
    first = maps.flatten(1).argmax(1)
    assert (first[0] // 96, first[0] % 96) == (0, 0)  # what argmax alone says for the top-left cell
    rows, columns = peak_pixels(maps, (3, 3))
    assert list(zip(rows.tolist(), columns.tolist(), strict=True)) == [(15, 15), (80, 80), (47, 47), (15, 47)]
    flipped_rows, flipped_columns = peak_pixels(maps.flip(1, 2), (3, 3))  # the same maps turned half a turn
    assert torch.equal(flipped_rows[:2], 95 - rows[:2]) and torch.equal(flipped_columns[:2], 95 - columns[:2])


def test_interior_peaks_keep_the_bilinear_maximum():
    """Inside the outer cell centres the rule is argmax of the upsampled map, unchanged."""
    cells = torch.rand(50, 16, 16, generator=torch.Generator().manual_seed(3))
    maps = _upsampled(cells, 64)
    rows, columns = peak_pixels(maps, (16, 16))
    flat = maps.flatten(1).argmax(1)
    inside = (flat // 64 >= 1) & (flat // 64 <= 62) & (flat % 64 >= 1) & (flat % 64 <= 62)
    assert inside.sum() >= 25  # 34 of these 50 (a border cell holds the maximum of the others)
    assert torch.equal(rows[inside], (flat // 64)[inside]) and torch.equal(columns[inside], (flat % 64)[inside])
    assert rows.min() >= 1 and rows.max() <= 62 and columns.min() >= 1 and columns.max() <= 62


def test_gradcam_peak_and_the_pointing_game_use_the_same_point(resnet20):
    image = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(5)).to(_device(resnet20))
    for n in range(3):
        cam = grad_cam(resnet20, image[n : n + 1], target=2)
        row, column = cam.peak()
        box = torch.tensor([[column, row, column + 1, row + 1]], dtype=torch.float32)
        assert pointing_hits(resnet20, image[n : n + 1], torch.tensor([2]), box, layer=cam.layer).item()
        shifted = box + torch.tensor([[1.0, 0.0, 1.0, 0.0]])  # one pixel right of the peak: a miss
        assert not pointing_hits(resnet20, image[n : n + 1], torch.tensor([2]), shifted, layer=cam.layer).item()
