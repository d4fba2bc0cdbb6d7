"""The family registry: every preset and every family default builds, runs forward and backward.

Also the structure each builder returns (stages), and the knobs that change a network's wiring:
skip, preact, bn, deform, in_channels and the plain family's initialisation schemes.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from explorer.config import matching_preset, parse_query
from explorer.families import FAMILIES, PRESETS, build
from explorer.families.nets.deformable import DeformableConv2d
from explorer.families.nets.resnet import (
    PadShortcut,
    PlainBasicBlock,
    PlainBottleneck,
    PreActBasicBlock,
    PreActBottleneck,
)
from explorer.families.plain import PlainConfig
from explorer.knobs import ModelConfig

pytestmark = pytest.mark.usefixtures("single_thread")

CASES: dict[str, ModelConfig] = {f"preset={name}": parse_query(f"preset={name}") for name in PRESETS} | {
    f"family={family}": config_type() for family, config_type in FAMILIES.items()
}
#: A family default that is exactly a preset (resnet = resnet18, vgg = vgg16, ...) is one model:
#: the build-and-train test runs it once, under the preset's name.
DISTINCT = [case for case in CASES if case.startswith("preset=") or matching_preset(CASES[case]) is None]
#: VGG keeps a 25088x4096 + 4096x4096 classifier at any input size: building one on the CPU means
#: seconds of random initialisation, the same for all eight. vgg11 and vgg11_bn (both layer tables'
#: code paths, with and without BN) train on the CPU; the other six run forward on the meta device.
META_FORWARD = {case for case in DISTINCT if case.startswith("preset=vgg")} - {"preset=vgg11", "preset=vgg11_bn"}
#: Inception-v3 with its auxiliary classifier needs 299 px: ~35 G multiply-adds for a forward and a
#: backward pass of two images. It runs forward on the meta device here; tests/test_classic.py trains
#: it (aux loss included) at width 0.25.
META_FORWARD |= {"preset=inception_v3"}


def small(config: ModelConfig, **changes: object) -> ModelConfig:
    """The same architecture at its smallest allowed input and 10 classes."""
    resolution = max(8, config.min_resolution)
    return dataclasses.replace(config, resolution=resolution, classes=10, **changes)


def batch(config: ModelConfig, n: int = 2) -> torch.Tensor:
    side = config.input_resolution
    return torch.randn(n, config.in_channels, side, side)


def test_every_family_has_a_builder_and_presets_cover_them() -> None:
    assert len(CASES) == len(PRESETS) + len(FAMILIES)
    families_with_presets = {config.family for case, config in CASES.items() if case.startswith("preset=")}
    assert families_with_presets == set(FAMILIES) - {"plain"}
    defaults = {family: matching_preset(config_type()) for family, config_type in FAMILIES.items()}
    assert defaults == {
        "resnet": "resnet18",
        "densenet": "densenet121",
        "mobilenet_v1": "mobilenet_v1",
        "mobilenet_v2": "mobilenet_v2",
        "mobilenet_v3": "mobilenet_v3_large",
        "efficientnet": "efficientnet_b0",
        "vgg": "vgg16",
        "alexnet": "alexnet",
        "googlenet": "googlenet",
        "inception_v3": "inception_v3",
        "plain": None,
        "blocks": "hybrid_resnet",
    }
    assert [case for case in DISTINCT if case.startswith("family=")] == ["family=plain"]


@pytest.mark.slow
@pytest.mark.parametrize("case", DISTINCT)
def test_builds_runs_and_trains(case: str) -> None:
    torch.manual_seed(0)
    config = small(CASES[case])
    if case in META_FORWARD:
        model = build(config, device="meta").module
        assert model(batch(config).to("meta")).shape == (2, 10)
        assert all(p.requires_grad for p in model.parameters())
        return
    model = build(config, device="cpu").module
    x = batch(config)
    model.train()  # batch statistics: an untrained net in eval mode is unnormalised (resnet1202 overflows)
    out = model(x)
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()
    target = torch.tensor([1, 7])
    # GoogLeNet / Inception-v3 keep their auxiliary classifiers' logits aside: their loss trains them.
    aux = getattr(model, "aux_outputs", ())
    (F.cross_entropy(out, target) + sum(0.3 * F.cross_entropy(a, target) for a in aux)).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    bad = [name for name, p in model.named_parameters() if not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradient for {bad[:5]}"
    assert sum(p.grad.abs().sum().item() for p in model.parameters()) > 0


@pytest.mark.parametrize("case", list(CASES))
def test_stages_cover_every_parameterised_module_exactly_once(case: str) -> None:
    built = build(CASES[case], device="meta")
    modules = dict(built.module.named_modules())
    names = [stage.name for stage in built.stages]
    assert len(names) == len(set(names))
    assert names[-1] == "head"
    for stage in built.stages:
        for prefix in stage.modules:
            assert prefix in modules, f"stage {stage.name} lists missing module {prefix}"
        for block in stage.blocks:
            assert block in modules
            assert any(block == p or block.startswith(p + ".") for p in stage.modules)
    for name, module in modules.items():
        if not any(True for _ in module.parameters(recurse=False)):
            continue
        owners = [s.name for s in built.stages for p in s.modules if name == p or name.startswith(p + ".")]
        assert len(owners) == 1, f"{name} belongs to {owners}"
        assert built.stage_of(name).name == owners[0]
    with pytest.raises(KeyError, match="belongs to no stage"):
        built.stage_of("no.such.module")


def test_stage_and_block_of_resnet50() -> None:
    built = build(parse_query("preset=resnet50"), device="meta")
    assert [s.name for s in built.stages] == ["stem", "stage1", "stage2", "stage3", "stage4", "head"]
    assert [len(s.blocks) for s in built.stages] == [0, 3, 4, 6, 3, 0]
    assert built.stage_of("layer3.5.conv2").name == "stage3"
    assert built.block_of("layer3.5.conv2") == "layer3.5"
    assert built.block_of("fc") is None
    assert built.stage_of("conv1").name == "stem"


# -- resnet wiring knobs ---------------------------------------------------------------------


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def modules_of(model: nn.Module, kind: type | tuple[type, ...]) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, kind)]


def test_skip_off_removes_imagenet_projections() -> None:
    with_skip = build(parse_query("preset=resnet18"), device="meta").module
    plain = build(parse_query("preset=resnet18&skip=off"), device="meta").module
    # The three 1x1 stride-2 projections (conv + BN) of stages 2-4: 64->128, 128->256, 256->512.
    projections = sum(c_in * c_out + 2 * c_out for c_in, c_out in ((64, 128), (128, 256), (256, 512)))
    assert projections == 173_824
    assert n_params(with_skip) - n_params(plain) == projections
    assert all(
        type(b) is PlainBasicBlock and b.downsample is None
        for s in (1, 2, 3, 4)
        for b in plain.get_submodule(f"layer{s}")
    )
    plain50 = build(parse_query("preset=resnet50&skip=off"), device="meta").module
    assert all(type(b) is PlainBottleneck and b.downsample is None for b in plain50.layer1)
    assert not [name for name, _ in plain50.named_modules() if ".downsample" in name]


def test_cifar_option_a_shortcuts_have_no_parameters_but_option_b_projections_do() -> None:
    basic = build(parse_query("preset=resnet20"), device="meta").module
    basic_plain = build(parse_query("preset=resnet20&skip=off"), device="meta").module
    assert len(modules_of(basic, PadShortcut)) == 2  # entries of stages 2 and 3
    assert not modules_of(basic_plain, PadShortcut)
    assert n_params(basic) == n_params(basic_plain)  # option A shortcuts are parameter-free
    # Bottleneck CIFAR ResNets project with 1x1 conv + BN (option B) where the shape changes:
    # 16->64, 64->128 and 128->256 channels; the plain net has none of them, so fewer parameters.
    bottleneck = build(parse_query("family=resnet&stem=cifar&depth=29&block=bottleneck"), device="meta").module
    bottleneck_plain = build(
        parse_query("family=resnet&stem=cifar&depth=29&block=bottleneck&skip=off"), device="meta"
    ).module
    projections = sum(c_in * c_out + 2 * c_out for c_in, c_out in ((16, 64), (64, 128), (128, 256)))
    assert n_params(bottleneck) - n_params(bottleneck_plain) == projections == 42_880


@pytest.mark.parametrize("preact", ["off", "on"])
def test_skip_off_really_removes_the_identity(preact: str) -> None:
    torch.manual_seed(0)
    outputs = {}
    for skip in ("on", "off"):
        model = build(parse_query(f"preset=resnet20&skip={skip}&preact={preact}"), device="cpu").module.eval()
        block = model.layer1[1]  # an identity block: 16 -> 16 channels, stride 1
        with torch.no_grad():
            for name, p in block.named_parameters():
                if "conv" in name:
                    p.zero_()
            x = torch.randn(1, 16, 8, 8)
            outputs[skip] = (x, block(x))
    x, out = outputs["off"]
    assert torch.count_nonzero(out) == 0  # residual branch is zero and nothing else is added
    x, out = outputs["on"]
    assert torch.allclose(out, x if preact == "on" else torch.relu(x))


def test_preact_blocks() -> None:
    model = build(parse_query("preset=preact_resnet164"), device="meta").module
    assert all(type(b) is PreActBottleneck for s in (1, 2, 3) for b in model.get_submodule(f"layer{s}"))
    assert isinstance(model.final_norm, nn.BatchNorm2d) and isinstance(model.final_relu, nn.ReLU)
    assert isinstance(model.bn1, nn.Identity)  # a CIFAR pre-activation stem is a bare conv
    imagenet = build(parse_query("preset=resnet18&preact=on"), device="meta").module
    assert all(type(b) is PreActBasicBlock for b in imagenet.layer1)
    assert isinstance(imagenet.bn1, nn.BatchNorm2d)
    # Pre-activation adds the final BN (2 x 512) and moves each block's first BN to its input, which
    # is narrower in the first block of stages 2-4 (64, 128, 256 channels instead of 128, 256, 512).
    post = n_params(build(parse_query("preset=resnet18"), device="meta").module)
    assert n_params(imagenet) - post == 2 * 512 - 2 * (64 + 128 + 256) == 128


@pytest.mark.parametrize(
    "query",
    [
        "preset=resnet18&bn=off",
        "preset=resnet50&bn=off&deform=4",
        "preset=resnet20&bn=off",
        "preset=preact_resnet164&bn=off",
        "preset=resnet18&bn=off&skip=off&preact=on",
        "family=plain&bn=off",
        "family=plain&bn=off&skip=on&deform=on",
        "preset=vgg11",
    ],
)
def test_bn_off_leaves_no_batch_norm(query: str) -> None:
    model = build(parse_query(query), device="meta").module
    assert not modules_of(model, nn.modules.batchnorm._BatchNorm)
    with_bn = query.replace("bn=off", "bn=on").replace("vgg11", "vgg11_bn")
    assert modules_of(build(parse_query(with_bn), device="meta").module, nn.BatchNorm2d)


@pytest.mark.parametrize(
    ("query", "stages", "count"),
    [
        ("preset=resnet18&deform=4", (4,), 4),  # 2 basic blocks x 2 convs
        ("preset=resnet18&deform=2,4", (2, 4), 8),
        ("preset=resnet50&deform=3", (3,), 6),  # 6 bottlenecks x one 3x3 conv
        ("preset=resnet20&deform=1,3", (1, 3), 12),  # 3 blocks x 2 convs, per stage
        ("preset=preact_resnet164&deform=2&depth=29", (2,), 3),
    ],
)
def test_deformable_convs_only_in_chosen_stages(query: str, stages: tuple[int, ...], count: int) -> None:
    model = build(parse_query(query), device="meta").module
    deformable = modules_of(model, DeformableConv2d)
    assert len(deformable) == count
    assert {int(name.split(".")[0].removeprefix("layer")) for name in deformable} == set(stages)
    for name in deformable:
        assert model.get_submodule(name).kernel_size == (3, 3)
        assert model.get_submodule(f"{name}.offset_conv").out_channels == 18
    others = [
        n
        for n, m in model.named_modules()
        if type(m) is nn.Conv2d and m.kernel_size == (3, 3) and not n.endswith(".offset_conv")
    ]
    assert others
    assert all(int(n.split(".")[0].removeprefix("layer")) not in stages for n in others if n.startswith("layer"))


def test_plain_deform_makes_every_conv_after_the_stem_deformable() -> None:
    model = build(parse_query("family=plain&depth=10&deform=on"), device="meta").module
    deformable = modules_of(model, DeformableConv2d)
    assert len(deformable) == 9
    assert type(model.stem[0]) is nn.Conv2d


@pytest.mark.parametrize("family", list(FAMILIES))
def test_one_input_channel(family: str) -> None:
    torch.manual_seed(0)
    config = small(FAMILIES[family](), in_channels=1)
    if family == "vgg":
        config = dataclasses.replace(config, depth=11)
    if family in ("alexnet", "googlenet", "inception_v3"):  # the thinnest, for a quick CPU build
        config = dataclasses.replace(config, width=0.25)
    built = build(config, device="cpu")
    first = next(m for m in built.module.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 1
    with torch.no_grad():
        out = built.module.eval()(batch(config))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()
    with pytest.raises(RuntimeError):
        built.module(torch.randn(2, 3, config.input_resolution, config.input_resolution))


def test_resnet_cifar_one_channel_with_deform() -> None:
    config = small(parse_query("preset=resnet20&deform=1&in_channels=1"))
    model = build(config, device="cpu").module.eval()
    assert model.conv1.in_channels == 1
    with torch.no_grad():
        assert model(batch(config)).shape == (2, 10)


# -- deformable conv -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stride", "padding", "groups", "bias"), [(1, 1, 1, False), (2, 1, 1, True), (1, 0, 2, True), (2, 2, 4, False)]
)
def test_deformable_with_zero_offsets_equals_conv(stride: int, padding: int, groups: int, bias: bool) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 12, 3, stride=stride, padding=padding, groups=groups, bias=bias)
    deform = DeformableConv2d.from_conv(conv)
    assert torch.count_nonzero(deform.offset_conv.weight) == 0
    assert torch.count_nonzero(deform.offset_conv.bias) == 0
    x = torch.randn(2, 8, 11, 11)
    with torch.no_grad():
        assert torch.allclose(deform(x), conv(x), atol=1e-5)


def test_modulated_deformable_starts_at_half_mask() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, padding=1, bias=True)
    deform = DeformableConv2d.from_conv(conv, modulated=True)
    assert deform.offset_conv.out_channels == 27
    x = torch.randn(1, 4, 7, 7)
    with torch.no_grad():
        expected = 0.5 * F.conv2d(x, conv.weight, None, padding=1) + conv.bias.view(1, -1, 1, 1)
        assert torch.allclose(deform(x), expected, atol=1e-5)


def test_deformable_keeps_offsets_when_asked() -> None:
    layer = DeformableConv2d(3, 5, 3, stride=2, padding=1)
    x = torch.randn(2, 3, 9, 9)
    layer(x)
    assert layer.last_offsets is None
    layer.keep_offsets = True
    out = layer(x)
    assert out.shape == (2, 5, 5, 5)
    assert layer.last_offsets is not None and layer.last_offsets.shape == (2, 18, 5, 5)
    assert not layer.last_offsets.requires_grad
    assert layer.last_mask is None


def test_deformable_offsets_get_gradients_and_move_the_sampling() -> None:
    torch.manual_seed(0)
    layer = DeformableConv2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 8, 8)
    layer(x).square().sum().backward()
    assert layer.offset_conv.weight.grad is not None
    assert torch.count_nonzero(layer.offset_conv.weight.grad) > 0
    before = layer(x).detach()
    with torch.no_grad():
        layer.offset_conv.bias.fill_(0.5)
    assert not torch.allclose(layer(x), before)


# -- plain family initialisation -------------------------------------------------------------


def plain_weight(init: str, deform: bool = False) -> tuple[torch.Tensor, nn.Module]:
    torch.manual_seed(0)
    model = build(PlainConfig(depth=7, width=32, init=init, deform=deform), device="cpu").module
    return model.stage3[0].conv2.weight.detach(), model  # 128 x 128 x 3 x 3, fan_in 1152


def test_plain_init_schemes_differ() -> None:
    fan_in = fan_out = 128 * 9
    weights = {init: plain_weight(init)[0] for init in ("default", "kaiming", "xavier", "orthogonal")}
    # PyTorch's default: kaiming_uniform(a=sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std 1/sqrt(3 fan_in).
    assert weights["default"].abs().max() <= 1 / math.sqrt(fan_in)
    assert weights["default"].std().item() == pytest.approx(1 / math.sqrt(3 * fan_in), rel=0.05)
    assert weights["kaiming"].std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    assert weights["xavier"].std().item() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.05)
    rows = weights["orthogonal"].reshape(128, -1)
    assert torch.allclose(rows @ rows.T, torch.eye(128), atol=1e-4)
    names = list(weights)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not torch.allclose(weights[a], weights[b]), (a, b)


@pytest.mark.parametrize("init", ["kaiming", "xavier", "orthogonal"])
def test_plain_init_keeps_offset_convs_at_zero(init: str) -> None:
    _, model = plain_weight(init, deform=True)
    offsets = [m.offset_conv for m in model.modules() if isinstance(m, DeformableConv2d)]
    assert offsets
    assert all(torch.count_nonzero(m.weight) == 0 and torch.count_nonzero(m.bias) == 0 for m in offsets)


def test_make_divisible_is_torchvisions_rule() -> None:
    """The configs' own copy (they import no torch) rounds as torchvision's ``_make_divisible``."""
    from torchvision.models._utils import _make_divisible

    from explorer.families.rounding import make_divisible

    for divisor in (4, 8, 16):
        for tenth in range(1, 20_000, 7):
            value = tenth / 10
            assert make_divisible(value, divisor) == _make_divisible(value, divisor), (value, divisor)


def test_meta_builds_skip_weight_init_but_keep_every_shape():
    """``build(..., device="meta")`` skips the in-place fills of initialisation (explorer.families.meta_init):
    the same state dict shapes as a CPU build, and fills of real tensors inside the context still draw."""
    from explorer.families.meta_init import skip_init_on_meta

    config = parse_query("preset=efficientnet_b0")
    meta = {k: tuple(v.shape) for k, v in build(config, device="meta").module.state_dict().items()}
    cpu = {k: tuple(v.shape) for k, v in build(config).module.state_dict().items()}
    assert meta == cpu
    with skip_init_on_meta():
        drawn = torch.zeros(1000).normal_()
        kept = torch.empty(3, device="meta").normal_()
    assert drawn.std() > 0.9
    assert kept.is_meta and kept.shape == (3,)


def test_init_functions_skip_meta_tensors_whole() -> None:
    """``torch.nn.init``'s functions reach a torch function mode as themselves, with the tensor by
    keyword; inside skip_init_on_meta none of them draws into a meta tensor (no aten fill runs: on
    meta those go through torch's Python decompositions), and on a real tensor they still draw."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from explorer.families.meta_init import skip_init_on_meta

    ran: list[str] = []

    class Ops(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            ran.append(func.__name__)
            return func(*args, **(kwargs or {}))

    meta = torch.empty(16, 8, 3, 3, device="meta")
    with skip_init_on_meta(), Ops():
        torch.nn.init.kaiming_uniform_(meta, a=5**0.5)
        torch.nn.init.kaiming_normal_(meta, mode="fan_out")
        torch.nn.init.uniform_(meta, -0.1, 0.1)
        torch.nn.init.trunc_normal_(meta, std=0.02)
        torch.nn.init.ones_(meta)
        meta.normal_()
    assert ran == []
    real = torch.empty(64, 32, 3, 3)
    with skip_init_on_meta():
        torch.nn.init.kaiming_uniform_(real, a=5**0.5)
    assert 0.01 < real.std() < 1
