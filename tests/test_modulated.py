"""DCNv2 (modulated deformable convs): the config knob, the layers it builds and what they cost."""

from __future__ import annotations

import pytest
import torch

from explorer.config import parse_query
from explorer.families import build
from explorer.families.nets.deformable import DeformableConv2d
from explorer.knobs import ConfigError, format_query
from explorer.measure.profile import profile


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("preset=resnet50&modulated=on", "modulated=on needs deformable stages"),
        ("family=plain&modulated=on", "modulated=on needs deform=on"),
    ],
)
def test_modulation_needs_deformable_layers(query: str, message: str):
    with pytest.raises(ConfigError, match=message):
        parse_query(query)


def test_modulated_layers_predict_a_mask_that_starts_at_one_half():
    config = parse_query("family=plain&depth=4&deform=on&modulated=on&classes=3")
    assert format_query(config) == "family=plain&depth=4&deform=on&modulated=on&classes=3"
    model = build(config).module.eval()
    layers = [m for m in model.modules() if isinstance(m, DeformableConv2d)]
    assert layers and all(m.modulated and m.offset_conv.out_channels == 27 for m in layers)
    layers[0].keep_offsets = True
    model(torch.rand(1, 3, 16, 16))
    assert torch.equal(layers[0].last_mask, torch.full_like(layers[0].last_mask, 0.5))
    assert layers[0].last_mask.shape == (1, 9, 16, 16)


def test_mask_and_larger_offset_conv_are_counted():
    plain = profile(parse_query("preset=resnet50&deform=4"))
    modulated = profile(parse_query("preset=resnet50&deform=4&modulated=on"))
    extra = 0
    for row in modulated.layers:
        if row.type == "DeformableConv2d":
            c_in = 512  # every 3x3 conv of ResNet-50's stage 4 reads 512 channels
            h, w = row.output_shape[2:]
            # Written out, not taken from explorer.measure.flops: one mask multiply per sampled value
            # (input channel x tap x output pixel), and 9 more offset-conv outputs (the mask logits),
            # each a 3x3 conv over c_in channels.
            extra += c_in * 9 * h * w
            extra += 9 * c_in * 9 * h * w
    assert modulated.macs - plain.macs == extra
    # ResNet-50's stage 4 at 224 px: three 3x3 deformable convs; the first has stride 2 (7x7 out).
    assert [r.output_shape[2:] for r in modulated.layers if r.type == "DeformableConv2d"] == [(7, 7)] * 3
    assert extra == 3 * (512 * 9 * 49 + 9 * 512 * 9 * 49)


def test_deformable_page_shows_the_mask_of_a_modulated_config():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=300)
    for key, value in {"family": "plain", "depth": "4", "deform": "on", "modulated": "on"}.items():
        at.query_params[key] = value
    at.switch_page("pages/deform.py")
    at.run()
    assert not at.exception, at.exception
    assert not any("has no modulation mask" in i.value for i in at.info)
    assert any(chart.key == "deform.mask" for chart in at.get("plotly_chart"))
