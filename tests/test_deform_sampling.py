"""The sampling path of deformable convolution against torchvision's op, its reference: outputs and
the gradients of input, weight, bias, offset and mask, over strides, paddings, dilations, groups,
offset groups, non-square kernels and images, offsets that reach outside the image, the regular grid
(integer sampling points, where bilinear interpolation has a kink), DCNv1 and DCNv2."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.ops import deform_conv2d

from explorer.config import parse_query
from explorer.families import build
from explorer.families.nets.deformable import DeformableConv2d, sampled_deform_conv2d, set_backend, uses_sampling

# (batch, c_in, c_out, h, w, kernel, stride, padding, dilation, groups, offset_groups)
CASES = [
    (2, 4, 6, 9, 9, (3, 3), (1, 1), (1, 1), (1, 1), 1, 1),
    (2, 4, 6, 8, 8, (3, 3), (2, 2), (1, 1), (1, 1), 1, 1),
    (1, 3, 5, 11, 7, (3, 3), (1, 2), (2, 0), (2, 1), 1, 1),
    (2, 4, 4, 10, 10, (3, 3), (1, 1), (0, 0), (1, 1), 2, 2),
    (2, 6, 4, 7, 12, (2, 3), (2, 1), (1, 2), (1, 2), 2, 3),
    (1, 2, 3, 5, 5, (1, 1), (1, 1), (0, 0), (1, 1), 1, 1),
    (2, 4, 4, 16, 16, (3, 3), (1, 1), (1, 1), (1, 1), 4, 1),
]


def _inputs(case, modulated: bool, offset_scale: float, dtype: torch.dtype, seed: int) -> dict[str, Tensor]:
    b, c_in, c_out, h, w, (kh, kw), stride, padding, dilation, groups, offset_groups = case
    generator = torch.Generator().manual_seed(seed)
    h_out = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    w_out = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1

    def rand(*shape: int, scale: float = 1.0) -> Tensor:
        return (torch.randn(*shape, generator=generator, dtype=dtype) * scale).requires_grad_()

    tensors = {
        "input": rand(b, c_in, h, w),
        "offset": rand(b, 2 * offset_groups * kh * kw, h_out, w_out, scale=offset_scale),
        "weight": rand(c_out, c_in // groups, kh, kw),
        "bias": rand(c_out),
    }
    if modulated:
        tensors["mask"] = torch.rand(b, offset_groups * kh * kw, h_out, w_out, generator=generator, dtype=dtype)
        tensors["mask"].requires_grad_()
    return tensors


def _run(function, tensors: dict[str, Tensor], case) -> tuple[Tensor, dict[str, Tensor]]:
    stride, padding, dilation = case[6], case[7], case[8]
    leaves = {name: t.detach().clone().requires_grad_() for name, t in tensors.items()}
    out = function(
        leaves["input"], leaves["offset"], leaves["weight"], leaves["bias"], stride, padding, dilation,
        leaves.get("mask"),
    )  # fmt: skip
    # A loss whose gradient differs per output element, so every path of the backward pass is checked.
    upstream = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    (out * upstream).sum().backward()
    return out.detach(), {name: t.grad for name, t in leaves.items()}


def _assert_same(case, modulated: bool, offset_scale: float, dtype: torch.dtype, seed: int, tol: float) -> None:
    tensors = _inputs(case, modulated, offset_scale, dtype, seed)
    expected, expected_grads = _run(deform_conv2d, tensors, case)
    actual, actual_grads = _run(sampled_deform_conv2d, tensors, case)
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol)
    assert set(actual_grads) == set(expected_grads)
    for name in expected_grads:
        scale = max(1.0, float(expected_grads[name].abs().max()))
        torch.testing.assert_close(actual_grads[name], expected_grads[name], rtol=tol, atol=tol * scale, msg=name)


@pytest.mark.parametrize("modulated", [False, True], ids=["dcn1", "dcn2"])
@pytest.mark.parametrize("case", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_forward_and_every_gradient_match_torchvision_with_offsets_reaching_outside(case, modulated):
    # Offsets of std 3 pixels on images of 5-16 pixels: many points land outside or across the border.
    _assert_same(case, modulated, offset_scale=3.0, dtype=torch.float32, seed=0, tol=1e-4)


@pytest.mark.parametrize("modulated", [False, True], ids=["dcn1", "dcn2"])
@pytest.mark.parametrize("case", CASES[:5], ids=[f"case{i}" for i in range(5)])
def test_regular_grid_gradients_match_torchvision_at_the_kinks(case, modulated):
    # Zero offsets put every point on an integer coordinate, some exactly at -1 or at H: where
    # bilinear interpolation is not differentiable, both must take the same one-sided derivative.
    _assert_same(case, modulated, offset_scale=0.0, dtype=torch.float32, seed=1, tol=1e-4)


def test_integer_offsets_match_in_double_precision_to_rounding():
    case = CASES[2]
    tensors = _inputs(case, True, offset_scale=0.0, dtype=torch.float64, seed=2)
    with torch.no_grad():
        tensors["offset"].copy_(torch.randint(-3, 4, tensors["offset"].shape, dtype=torch.float64))
    expected, expected_grads = _run(deform_conv2d, tensors, case)
    actual, actual_grads = _run(sampled_deform_conv2d, tensors, case)
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)
    for name in expected_grads:
        torch.testing.assert_close(actual_grads[name], expected_grads[name], rtol=1e-10, atol=1e-10, msg=name)


def test_points_far_outside_read_zero_and_pass_no_gradient():
    x = torch.randn(1, 2, 6, 6, requires_grad=True)
    offset = torch.full((1, 18, 6, 6), 50.0, requires_grad=True)
    out = sampled_deform_conv2d(x, offset, torch.randn(3, 2, 3, 3), padding=1)
    assert torch.equal(out, torch.zeros_like(out))
    out.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x)) and torch.equal(offset.grad, torch.zeros_like(offset))


@pytest.mark.parametrize(
    ("shapes", "message"),
    [
        (((1, 4, 8, 8), (1, 17, 8, 8), (4, 4, 3, 3)), "offset"),
        (((1, 4, 8, 8), (1, 18, 7, 8), (4, 4, 3, 3)), "output size"),
        (((1, 4, 8, 8), (1, 18, 8, 8), (4, 3, 3, 3)), "groups"),
    ],
)
def test_mismatched_shapes_raise(shapes, message):
    x, offset, weight = (torch.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=message):
        sampled_deform_conv2d(x, offset, weight, padding=1)


def test_mask_of_the_wrong_shape_raises():
    with pytest.raises(ValueError, match="mask"):
        sampled_deform_conv2d(
            torch.zeros(1, 2, 5, 5), torch.zeros(1, 18, 5, 5), torch.zeros(2, 2, 3, 3), padding=1,
            mask=torch.zeros(1, 8, 5, 5),
        )  # fmt: skip


def test_the_layer_picks_the_sampling_path_on_cpu_and_torchvision_elsewhere():
    assert uses_sampling(torch.device("cpu"))
    assert not uses_sampling(torch.device("cuda"))
    assert not uses_sampling(torch.device("meta"))
    with FlopCounterMode(display=False):  # profiles count torchvision's op by the project's formula
        assert not uses_sampling(torch.device("cpu"))


@pytest.mark.parametrize("modulated", [False, True])
def test_layer_backends_agree_and_keep_the_state_dict_layout(modulated):
    torch.manual_seed(3)
    layer = DeformableConv2d(4, 6, 3, stride=1, padding=1, bias=True, modulated=modulated)
    nn.init.normal_(layer.offset_conv.weight, std=0.3)  # learned-looking offsets, not the regular grid
    keys = set(layer.state_dict())
    assert keys == {"weight", "bias", "offset_conv.weight", "offset_conv.bias"}
    x = torch.randn(2, 4, 10, 10)
    outputs = {}
    for backend in ("torchvision", "sampling", "auto"):
        layer.backend = backend
        layer.zero_grad()
        out = layer(x)
        (out * out).mean().backward()
        outputs[backend] = (out.detach(), layer.weight.grad.clone(), layer.offset_conv.weight.grad.clone())
    assert set(layer.state_dict()) == keys
    for name in ("sampling", "auto"):
        for got, want in zip(outputs[name], outputs["torchvision"], strict=True):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_set_backend_reaches_every_deformable_layer_and_checks_its_argument():
    model = build(parse_query("family=plain&depth=4&width=4&deform=on&resolution=16")).module
    count = set_backend(model, "torchvision")
    layers = [m for m in model.modules() if isinstance(m, DeformableConv2d)]
    assert count == len(layers) > 0 and all(m.backend == "torchvision" for m in layers)
    with pytest.raises(ValueError, match="backend"):
        set_backend(model, "cuda")  # type: ignore[arg-type]


def test_bfloat16_autocast_samples_in_float32_and_returns_bfloat16():
    # torchvision's CPU kernel has no bfloat16 version; the sampling path computes the points in
    # float32 (31 + 0.3 in bfloat16 would be 31.25) and returns the input's dtype, as torchvision does.
    torch.manual_seed(4)
    layer = DeformableConv2d(4, 6, 3, padding=1, modulated=True)
    nn.init.normal_(layer.offset_conv.weight, std=0.3)
    x = torch.randn(2, 4, 32, 32)
    expected = layer(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        actual = layer(x.bfloat16())
    assert actual.dtype == torch.bfloat16
    torch.testing.assert_close(actual.float(), expected, rtol=0.05, atol=0.05)
    exact = sampled_deform_conv2d(x.double(), torch.full((1, 18, 32, 32), 0.3).double().expand(2, -1, -1, -1),
                                  layer.weight.double(), padding=1)  # fmt: skip
    low = sampled_deform_conv2d(x.bfloat16(), torch.full((2, 18, 32, 32), 0.3, dtype=torch.bfloat16),
                                layer.weight.bfloat16(), padding=1)  # fmt: skip
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.double(), exact, rtol=0.03, atol=0.03)
