"""Deformable convolution: geometry checked against torchvision itself, learned offsets, pictures, CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.ops import deform_conv2d

from explorer.analysis.deform import (
    _bilinear,
    deformable_layers,
    generated_shape,
    map_stride,
    offset_fields,
    offsets_settings,
    offsets_source,
    regular_grid,
    sampling_points,
    stacked_points,
    train_offsets,
    untrained,
)
from explorer.analysis.training import TrainSpec
from explorer.cli import main
from explorer.config import parse_query
from explorer.families import build
from explorer.families.nets.deformable import DeformableConv2d
from explorer.measure.profile import profile
from explorer.runtime.models import build_on
from explorer.views.deform import map_heatmap, quiver_figure, sampling_figure, stacked_figure

SMALL = "family=plain&depth=4&width=4&deform=on&resolution=16"


@pytest.mark.parametrize("stride", [1, 2])
def test_zero_offsets_reproduce_the_regular_conv_exactly(stride: int) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 3, stride, 1, bias=True)
    layer = DeformableConv2d.from_conv(conv)
    x = torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(layer(x), conv(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "tap", "location", "delta"),
    [
        (1, 1, 1, 2, (3, 3), (1.0, -2.0)),
        (1, 1, 1, 7, (2, 4), (0.25, 0.6)),
        (2, 1, 1, 4, (2, 1), (-0.5, 1.75)),
        (1, 2, 2, 0, (3, 2), (1.3, 0.4)),
    ],
)
def test_a_hand_made_offset_moves_the_sample_where_the_formula_says(stride, padding, dilation, tap, location, delta):
    # A one-hot 3x3 weight reads only tap ``tap``, so torchvision's output is the input bilinearly
    # interpolated at that tap's sampling point: compare with sampling_points + our own bilinear read.
    torch.manual_seed(1)
    x = torch.randn(1, 1, 11, 11, dtype=torch.float64)
    weight = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    weight.view(-1)[tap] = 1.0
    h_out = (11 + 2 * padding - dilation * 2 - 1) // stride + 1
    offsets = torch.zeros(1, 18, h_out, h_out, dtype=torch.float64)
    i, j = location
    offsets[0, 2 * tap, i, j], offsets[0, 2 * tap + 1, i, j] = delta  # (dy, dx) at channels (2t, 2t+1)
    out = deform_conv2d(x, offsets, weight, stride=stride, padding=padding, dilation=dilation)
    geometry = {"stride": (stride,) * 2, "padding": (padding,) * 2, "dilation": (dilation,) * 2}
    y, x_pos = sampling_points(offsets[0].numpy(), **geometry)[i, j, tap]
    a, b = divmod(tap, 3)
    assert (y, x_pos) == pytest.approx((i * stride - padding + a * dilation + delta[0],
                                        j * stride - padding + b * dilation + delta[1]))  # fmt: skip
    expected = _bilinear(x[0].numpy(), np.array([y]), np.array([x_pos]))[0, 0]
    assert float(out[0, 0, i, j]) == pytest.approx(expected, abs=1e-12)
    # Everywhere else the point is the regular grid's.
    points = sampling_points(offsets[0].numpy(), **geometry)
    grid = regular_grid((h_out, h_out), **geometry)
    moved = np.argwhere(np.any(points != grid, axis=-1))
    assert moved.tolist() == [[i, j, tap]]


def test_map_stride_follows_same_padding_halvings() -> None:
    assert [map_stride(224, s) for s in (224, 112, 56, 28, 14, 7)] == [1, 2, 4, 8, 16, 32]
    assert map_stride(100, 7) == 16  # 100 -> 50 -> 25 -> 13 -> 7


def test_offset_fields_read_the_offset_conv_and_map_to_image_pixels(device) -> None:
    config = parse_query(SMALL)
    built = build_on(config, device)
    layers = deformable_layers(built)
    assert [lay.name for lay in layers] == ["stage1.0.conv1", "stage2.0.conv1", "stage3.0.conv1"]
    target = built.module.get_submodule("stage2.0.conv1")
    with torch.no_grad():
        target.offset_conv.bias.copy_(torch.arange(18, dtype=torch.float32) / 10)
    training = built.module.training
    image, _ = generated_shape(3, 16, "square")
    view = offset_fields(built, image)
    assert built.module.training == training  # mode restored
    assert not any(m._forward_hooks for m in built.module.modules())  # hooks removed
    field = view.fields["stage2.0.conv1"]
    assert field.offsets.shape == (18, 8, 8) and (field.input_stride, field.output_stride) == (1.0, 2.0)
    np.testing.assert_allclose(field.offsets[:, 5, 2], np.arange(18) / 10, atol=1e-6)
    points = field.image_points(5, 2)
    regular = field.image_points(5, 2, deformed=False)
    np.testing.assert_allclose(points - regular, (np.arange(18) / 10).reshape(9, 2), atol=1e-6)
    assert regular[4].tolist() == [10.0, 4.0]  # the centre tap sits on the output's own pixel
    assert field.location_pixel(5, 2) == (10.0, 4.0)
    assert view.chain("stage3.0.conv1") == ["stage1.0.conv1", "stage2.0.conv1", "stage3.0.conv1"]
    assert not view.fields["stage3.0.conv1"].offsets.any()


def test_stacked_points_with_zero_offsets_are_the_dilated_regular_grid() -> None:
    built = build(parse_query(SMALL))
    view = offset_fields(built, generated_shape(0, 16)[0])
    levels = stacked_points(view, "stage3.0.conv1", 2, 1, levels=3)
    assert [len(level) for level in levels] == [9, 81, 729]
    # stage3's conv (stride 2) reads its 8x8 input (image stride 2) at rows 2*2-1+a = 3, 4, 5 and
    # columns 2*1-1+b = 1, 2, 3: image pixels 6, 8, 10 and 2, 4, 6.
    assert sorted({p[0] for p in levels[0]}) == [6.0, 8.0, 10.0]
    assert sorted({p[1] for p in levels[0]}) == [2.0, 4.0, 6.0]
    # stage2's conv (stride 2, input at full resolution) reads row 3 of its output (image row 6) at
    # image rows 5, 6, 7: its taps at the three rows above overlap one by one.
    assert sorted({p[0] for p in levels[1]}) == [5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]
    assert len({tuple(p) for p in levels[1]}) == 7 * 7
    with pytest.raises(ValueError, match="not a deformable layer"):
        stacked_points(view, "stem.0", 0, 0)


def test_stacked_points_follow_the_lower_layers_offsets() -> None:
    built = build(parse_query(SMALL))
    lower = built.module.get_submodule("stage2.0.conv1")
    with torch.no_grad():
        lower.offset_conv.bias.copy_(torch.tensor([0.5, -1.0] * 9))  # every tap: dy +0.5, dx -1
    view = offset_fields(built, generated_shape(0, 16)[0])
    zero = offset_fields(build(parse_query(SMALL)), generated_shape(0, 16)[0])
    moved = stacked_points(view, "stage3.0.conv1", 2, 1, levels=2)
    fixed = stacked_points(zero, "stage3.0.conv1", 2, 1, levels=2)
    np.testing.assert_allclose(moved[0], fixed[0])  # the top layer's own offsets are zero
    np.testing.assert_allclose(moved[1] - fixed[1], np.tile([0.5, -1.0], (81, 1)), atol=1e-6)


def test_training_moves_the_offsets_from_zero(device) -> None:
    steps: list[int] = []
    settings = offsets_settings(steps=3, batch=4, lr=1e-2, held_out=0)
    spec = TrainSpec(model=offsets_source(parse_query(SMALL)), settings=settings, device=device)
    pair = train_offsets(dataclasses.replace(spec, callbacks=(lambda r: steps.append(r.step),)))
    assert steps == [1, 2, 3] and pair.steps == 3 and len(pair.losses) == 3
    image = generated_shape(3, 16, "square")[0]
    before = offset_fields(pair.before.built, image, pair.before.mean, pair.before.std)
    after = offset_fields(pair.after.built, image, pair.after.mean, pair.after.std)
    for name in before.names:
        assert not before.fields[name].offsets.any()
        assert after.fields[name].magnitude().mean() > 1e-3
    assert pair.after.built.module is not pair.before.built.module
    zero = untrained(spec)
    assert not any(zero.built.module is m.built.module for m in (pair.before, pair.after))
    assert all(not f.offsets.any() for f in offset_fields(zero.built, image).fields.values())
    plain = TrainSpec(model=offsets_source(parse_query("family=plain&depth=4&resolution=16")), settings=settings)
    with pytest.raises(ValueError, match="no deformable layers"):
        untrained(plain)


def test_offsets_agree_with_the_cpu_on_every_device(device) -> None:
    """The same checkpoint gives the same offsets everywhere: within 1e-4 pixels (full float32)."""
    config = parse_query(SMALL + "&modulated=on")
    cpu = build_on(config, "cpu", seed=5)
    with torch.no_grad():
        for module in cpu.module.modules():
            if isinstance(module, DeformableConv2d):
                module.offset_conv.weight.normal_(0, 1.0, generator=torch.Generator().manual_seed(6))
    here = build_on(config, device)
    here.module.load_state_dict(cpu.module.state_dict())
    image = generated_shape(3, 16, "square")[0]
    expected, got = offset_fields(cpu, image), offset_fields(here, image)
    for name, field in expected.fields.items():
        assert np.abs(field.offsets).max() > 0.05
        np.testing.assert_allclose(got.fields[name].offsets, field.offsets, atol=1e-4, rtol=0)
        np.testing.assert_allclose(got.fields[name].mask, field.mask, atol=1e-5, rtol=0)


def test_the_pictures_points_equal_the_offsets() -> None:
    built = build(parse_query(SMALL))
    layer = built.module.get_submodule("stage3.0.conv1")
    torch.manual_seed(3)
    with torch.no_grad():
        layer.offset_conv.weight.normal_(0, 0.05)
    view = offset_fields(built, generated_shape(3, 16, "square")[0])
    field = view.fields["stage3.0.conv1"]
    i, j = 1, 2
    fig = sampling_figure(
        view.image,
        field.image_points(i, j, deformed=False),
        field.image_points(i, j),
        field.location_pixel(i, j),
        offsets=field.tap_offsets(i, j),
    )
    traces = {t.name.split(" ")[0]: t for t in fig.data if t.name}
    drawn = np.c_[traces["deformed"].y, traces["deformed"].x]
    regular = np.c_[traces["regular"].y, traces["regular"].x]
    expected = field.offsets[:, i, j].reshape(9, 2) * field.input_stride  # (dy, dx) pairs, image pixels
    np.testing.assert_allclose(drawn - regular, expected, atol=1e-5)
    assert np.abs(expected).max() > 0.01
    np.testing.assert_allclose(regular[4], [i * 4, j * 4])  # the centre tap under the output location
    origins, vectors = field.quiver()
    assert origins.shape == vectors.shape == (16, 2)
    np.testing.assert_allclose(vectors[i * 4 + j], field.offsets[:, i, j].reshape(9, 2).mean(0) * 2, atol=1e-6)
    quiver = quiver_figure(view.image, origins, vectors, 3.0)
    assert quiver.data[1].x[0] == origins[0, 1] and quiver.data[1].x[1] == origins[0, 1] + 3 * vectors[0, 1]
    heat = map_heatmap(view.image, field.magnitude(), field.output_stride)
    assert list(heat.data[1].x) == [0, 4, 8, 12]
    stacked = stacked_figure(view.image, stacked_points(view, "stage3.0.conv1", i, j), field.location_pixel(i, j))
    assert sum(len(t.x) for t in stacked.data[1:-1]) == 9 + 81 + 729


def test_modulated_layers_report_their_mask() -> None:
    built = build(parse_query(SMALL))
    old = built.module.stage3[0].conv1
    built.module.stage3[0].conv1 = DeformableConv2d.from_conv(nn.Conv2d(8, 16, 3, 2, 1, bias=False), modulated=True)
    assert old.out_channels == 16
    view = offset_fields(built, generated_shape(0, 16)[0])
    field = view.fields["stage3.0.conv1"]
    assert field.mask is not None and field.mask.shape == (9, 4, 4)
    np.testing.assert_allclose(field.mask, 0.5)  # sigmoid(0): DCNv2's start
    assert view.fields["stage2.0.conv1"].mask is None


def test_profile_counts_offset_convs_and_sampling_for_every_deformable_layer() -> None:
    # The page's default config: every deformable conv adds its offset conv's MACs and 4 bilinear
    # multiply-adds per sample and input channel to the plain conv's (explorer/measure/flops.py).
    deform, plain = parse_query("family=plain&depth=8&deform=on"), parse_query("family=plain&depth=8")
    rows = {r.name: r for r in profile(deform).layers}
    extra = 0
    for layer in deformable_layers(build(deform, "meta")):
        h_out, w_out = rows[layer.name].output_shape[2:]
        samples = layer.in_channels * layer.taps * h_out * w_out
        extra += 2 * layer.taps * h_out * w_out * layer.in_channels * layer.taps + 4 * samples
        assert rows[f"{layer.name}.offset_conv"].macs == 2 * layer.taps * h_out * w_out * layer.in_channels * layer.taps
    assert profile(deform).macs - profile(plain).macs == extra > 0


def test_cli_writes_offsets_and_sampling_points(tmp_path, capsys, device) -> None:
    image = tmp_path / "square.png"
    generated_shape(3, 16, "square")[0].save(image)
    out = tmp_path / "offsets.npz"
    argv = ["--device", device, "deform", SMALL, "--image", str(image), "--train-steps", "0", "--out", str(out)]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["layer"] == "stage3.0.conv1" and report["offsets_shape"] == [18, 4, 4]
    data = np.load(out)
    assert data["offsets"].shape == (18, 4, 4) and not data["offsets"].any()
    np.testing.assert_array_equal(data["sampling_points"], regular_grid((4, 4), stride=(2, 2)))
    np.testing.assert_array_equal(data["image_points"], data["sampling_points"] * 2)

    assert main(["--device", device, "deform", SMALL, "--image", str(image), "--train-steps", "2", "--out", str(out),
                 "--layer", "stage1.0.conv1"]) == 0  # fmt: skip
    data = np.load(out)
    assert data["offsets"].shape == (18, 16, 16) and np.abs(data["offsets"]).max() > 0
    grid = regular_grid((16, 16))
    delta = data["offsets"].reshape(9, 2, 16, 16).transpose(2, 3, 0, 1)
    np.testing.assert_allclose(data["sampling_points"] - grid, delta, atol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["preset=resnet18", "--out", "x.npz"], "has no deformable layers"),
        ([SMALL, "--out", "x.npy"], "--out must name a .npz file"),
        ([SMALL, "--out", "x.npz", "--layer", "fc"], "--layer 'fc' is not a deformable layer"),
        ([SMALL, "--out", "x.npz", "--train-steps", "-1"], "--train-steps -1"),
        ([SMALL, "--out", "x.npz", "--image", "/nonexistent.png"], "cannot read image"),
    ],
)
def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    generated_shape(0, 16)[0].save(tmp_path / "i.png")
    argv = ["deform", *args] + ([] if "--image" in args else ["--image", "i.png"])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_plots_module_imports_neither_torch_nor_streamlit() -> None:
    import ast

    import explorer.views.deform as plots

    tree = ast.parse(Path(plots.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"torch", "streamlit", "explorer"}
