"""The block composer (family=blocks) and the material's two hybrid models.

The hybrids are rebuilt here, independently, straight from the course material's description in plain PyTorch
(no explorer and no torchvision block classes), then compared with the presets: parameter counts,
MACs, state-dict layout and outputs with the same weights.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from explorer.analysis.graph import layer_graph
from explorer.analysis.signal import signal
from explorer.config import parse_query
from explorer.families import build
from explorer.families.blocks import HYBRID_EFFICIENT, HYBRID_RESNET, BlocksConfig
from explorer.families.blockspec import KINDS, canonical, parse_blocks, scale_blocks
from explorer.families.nets.deformable import DeformableConv2d
from explorer.knobs import ConfigError, format_query
from explorer.measure.profile import profile

pytestmark = pytest.mark.usefixtures("single_thread")


# -- the hybrids, from the description ---------------------------------------------------------


class RefMBConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, expansion: int, kernel: int, stride: int) -> None:
        super().__init__()
        hidden = c_in * expansion
        self.has_expansion = expansion != 1
        if self.has_expansion:  # the 1x1 expansion conv and its BN exist only when expansion != 1
            self.expand_conv = nn.Conv2d(c_in, hidden, 1, bias=False)
            self.expand_bn = nn.BatchNorm2d(hidden)
        self.dw_conv = nn.Conv2d(hidden, hidden, kernel, stride, kernel // 2, groups=hidden, bias=False)
        self.dw_bn = nn.BatchNorm2d(hidden)
        squeeze = max(1, int(c_in * 0.25))  # of the block's input channels
        self.se_reduce = nn.Conv2d(hidden, squeeze, 1, bias=True)
        self.se_expand = nn.Conv2d(squeeze, hidden, 1, bias=True)
        self.project_conv = nn.Conv2d(hidden, c_out, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        h = self.expand_bn(self.expand_conv(x)) if self.has_expansion else x
        h = F.silu(h)  # applied either way
        h = F.silu(self.dw_bn(self.dw_conv(h)))
        scale = torch.sigmoid(self.se_expand(F.silu(self.se_reduce(h.mean((2, 3), keepdim=True)))))
        h = self.project_bn(self.project_conv(h * scale))
        return h + x if self.residual else h


class RefBasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.project = stride != 1 or c_in != c_out
        if self.project:
            self.proj_conv = nn.Conv2d(c_in, c_out, 1, stride, bias=False)
            self.proj_bn = nn.BatchNorm2d(c_out)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = self.proj_bn(self.proj_conv(x)) if self.project else x
        return F.relu(out + shortcut)


class RefHybrid(nn.Module):
    def __init__(self, variant: str, classes: int = 1000) -> None:
        super().__init__()
        if variant == "efficient":
            self.stem_conv = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
            self.stem_bn = nn.BatchNorm2d(32)
            self.blocks = nn.Sequential(
                RefMBConv(32, 16, 1, 3, 1), RefMBConv(16, 24, 6, 3, 2), RefMBConv(24, 40, 6, 5, 2)
            )
            width = 40
        else:
            self.stem_conv = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.stem_bn = nn.BatchNorm2d(64)
            self.blocks = nn.Sequential(RefBasicBlock(64, 64, 1), RefBasicBlock(64, 128, 2), RefBasicBlock(128, 256, 2))
            width = 256
        self.variant = variant
        self.fc = nn.Linear(width, classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem_bn(self.stem_conv(x))
        x = F.silu(x) if self.variant == "efficient" else F.max_pool2d(F.relu(x), 3, 2, 1)
        x = torch.flatten(F.adaptive_avg_pool2d(self.blocks(x), 1), 1)
        return self.fc(F.dropout(x, 0.2, self.training))


#: Parameters by hand from the description (conv weights + BN weight/bias + biases):
#: efficient: stem 864+64; MBConv1 288+64 (dw) + 264+288 (SE 32->8->32) + 512+32; MBConv2 (hidden 96)
#: 1536+192 + 864+192 + 388+480 (SE 96->4->96) + 2304+48; MBConv3 (hidden 144) 3456+288 + 3600+288 +
#: 870+1008 (SE 144->6->144) + 5760+80; head 40*1000+1000.
#: resnet: stem 9408+128; 73728+256; 221184+512 + 8192+256; 884736+1024 + 32768+512; head 257000.
HAND_PARAMS = {"hybrid_efficient": 64_730, "hybrid_resnet": 1_489_704}


def _copy_in_order(source: nn.Module, target: nn.Module) -> None:
    """Copy tensors by position: both models must register the same tensors in the same order."""
    ours, theirs = target.state_dict(), source.state_dict()
    assert [tuple(v.shape) for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]
    target.load_state_dict(dict(zip(ours, theirs.values(), strict=True)), strict=True)


def _randomise(model: nn.Module) -> None:
    """Random weights and BN statistics, so that every tensor matters for the output."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("running_var"):
                tensor.uniform_(0.5, 2.0)
            elif tensor.is_floating_point():
                tensor.normal_(0, 0.2)


@pytest.mark.parametrize("variant", ["efficient", "resnet"])
def test_hybrid_matches_the_description(variant: str) -> None:
    torch.manual_seed(0)
    name = f"hybrid_{variant}"
    reference = RefHybrid(variant)
    _randomise(reference)
    config = parse_query(f"preset={name}")
    ours = build(config, device="cpu").module
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in reference.parameters())
    assert sum(p.numel() for p in ours.parameters()) == HAND_PARAMS[name]
    _copy_in_order(reference, ours)

    x = torch.randn(2, 3, 224, 224)
    with FlopCounterMode(display=False) as counter:
        expected = reference.eval()(x[:1])
    result = profile(config)
    assert result.params == HAND_PARAMS[name]
    assert result.macs == counter.get_total_flops() // 2
    with torch.no_grad():
        assert torch.allclose(ours.eval()(x[:1]), expected, rtol=1e-4, atol=1e-5)
        # Training mode too: batch statistics, and the same dropout mask from the same seed.
        torch.manual_seed(1)
        expected_train = reference.train()(x)
        torch.manual_seed(1)
        assert torch.allclose(ours.train()(x), expected_train, rtol=1e-4, atol=1e-5)


def test_hybrid_residuals_follow_the_rules() -> None:
    efficient = build(parse_query("preset=hybrid_efficient"), device="meta").module
    assert [block[0].use_residual for block in (efficient.stage1, efficient.stage2, efficient.stage3)] == [
        False,  # 32 -> 16: channels change
        False,  # stride 2
        False,
    ]
    assert efficient.stage1[0].expand is None and efficient.stage2[0].expand is not None
    same = build(parse_query("family=blocks&stem=conv16&blocks=mb16.e1"), device="meta").module
    assert same.stage1[0].use_residual
    resnet = build(parse_query("preset=hybrid_resnet"), device="meta").module
    assert [resnet.stage1[0].downsample is None, resnet.stage2[0].downsample is None] == [True, False]


def test_hybrid_presets_are_one_definition() -> None:
    assert parse_query("preset=hybrid_resnet") == BlocksConfig()  # the family's default
    efficient = parse_query("preset=hybrid_efficient")
    assert (efficient.stem, efficient.blocks, efficient.dropout) == (*HYBRID_EFFICIENT.values(), 0.2)
    assert (BlocksConfig().stem, BlocksConfig().blocks) == tuple(canonical(k, v) for k, v in HYBRID_RESNET.items())
    assert BlocksConfig().stem == "conv64.k7.s2,max"  # the 3x3 stride-2 max-pool is max's default
    assert format_query(efficient) == "preset=hybrid_efficient"
    assert format_query(dataclasses.replace(efficient, classes=10)) == "preset=hybrid_efficient&classes=10"


# -- the language ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MB24.E6.K3.S2", "mb24.s2"),  # case, defaults left out
        (" conv32.silu.s2 , res64 ", "conv32.s2.silu,res64"),  # fixed option order, spaces
        ("mb24.se25.e6.se0", None),  # an option twice
        ("incep64-96-128-16-32-32.x2", "incep64-96-128-16-32-32.x2"),
        ("trans,trans64,dense.k32.l6.b4", "trans,trans64,dense"),
        ("max.k3.s2.p1", "max.p1"),
        ("deform32.mod.k3", "deform32.mod"),
        ("conv8.i3", "conv8.i3"),
    ],
)
def test_canonical_form(text: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ConfigError, match="given twice"):
            canonical("blocks", text)
        return
    assert canonical("blocks", text) == expected
    assert canonical("blocks", expected) == expected


#: One block of every kind (stem: the ResNet hybrid's), valid at 128 px.
EVERY_KIND = (
    "conv32.g2.nobn.linear,bottle128.s2.g4.w32,dense.k8.l3,trans,dw64.k5.s2,mb48.e4.k5.se0,"
    "deform32.mod,incep16-8-16-4-8-8.x2,max,avg.k3.s1,res64.s2"
)


def test_every_kind_builds_profiles_and_traces() -> None:
    assert {b.kind for b in parse_blocks("blocks", EVERY_KIND)} == set(KINDS)
    config = parse_query(f"family=blocks&blocks={EVERY_KIND}&resolution=128&classes=10")
    built = build(config, device="cpu")
    out = built.module.eval()(torch.randn(2, 3, 128, 128))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    result = profile(config)
    assert result.params == sum(p.numel() for p in built.module.parameters()) == sum(r.params for r in result.layers)
    assert [s.name for s in built.stages] == ["stem"] + [f"stage{i}" for i in range(1, 12)] + ["head"]
    assert built.stages[8].blocks == ("stage8.0", "stage8.1")  # incep x2: two blocks of one stage
    assert {r.stage for r in result.layers} == {s.name for s in built.stages}
    assert sum(isinstance(m, DeformableConv2d) for m in built.module.modules()) == 1
    last = {t.index: t for t in config.layers if t.key == "blocks"}
    assert [last[i].out_channels for i in sorted(last)] == [32, 128, 152, 76, 64, 48, 32, 48, 48, 48, 64]
    graph = layer_graph(config)
    assert sum(n.op == "DeformConv2d" for n in graph.nodes) == 1
    assert [g.kind for g in graph.groups].count("branch") == 8  # 4 branches x 2 Inception modules


def test_inception_block_is_the_papers_module() -> None:
    model = build(
        parse_query("family=blocks&stem=conv192&blocks=incep64-96-128-16-32-32&resolution=28"), device="meta"
    ).module
    inception = model.stage1[0]
    assert inception.branch3[1].conv.kernel_size == (5, 5)  # the paper's 5x5 (torchvision keeps a 3x3)
    assert model.fc.in_features == 64 + 128 + 32 + 32


def test_graph_shows_inception_branches_and_their_concatenation() -> None:
    for query, module in [("preset=googlenet", "inception3a"), ("preset=inception_v3", "Mixed_7b")]:
        graph = layer_graph(parse_query(query))
        (block,) = [g for g in graph.groups if g.module == module]
        branches = [c for c in block.children if graph.is_group(c)]
        assert [graph.group(c).kind for c in branches] == ["branch"] * 4
        (merge,) = [c for c in block.children if not graph.is_group(c)]
        assert graph.node(merge).op == "cat"
        # every branch feeds the concatenation, and together they hold every node but the cat
        feeding = {a for a, b in graph.edges if b == merge}
        assert all(set(graph.group(c).nodes) & feeding for c in branches)
        assert sorted(n for c in branches for n in graph.group(c).nodes) == sorted(set(block.nodes) - {merge})
    # Inception-E's split 1x3 / 3x1 branch: the inner concatenation belongs to the branch
    graph = layer_graph(parse_query("preset=inception_v3"))
    split = graph.group("b:Mixed_7b.branch3x3")
    assert [graph.node(n).op for n in split.nodes if not graph.is_group(n)][-1] == "cat"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("blocks=conv32.g5", "blocks: block 1 'conv32.g5': g=5 groups must divide the input channels (64)"),
        (
            "blocks=res64,mb24.i32",
            "blocks: block 2 'mb24.i32' expects 32 input channels, but the block before gives 64",
        ),
        ("stem=conv8.i1", "stem: block 1 'conv8.i1' expects 1 input channels, but in_channels=3"),
        (
            "blocks=res64.s2,res64.s2,res64.s2,res64.s2&resolution=32",
            "blocks: block 4 'res64.s2': stride 2 shrinks the 1 px map below 1 pixel",
        ),
        ("blocks=avg.k3,avg.k3&resolution=8", "blocks: block 2 'avg.k3': stride 2 shrinks the 1 px map below 1 pixel"),
        ("blocks=avg.k5.p0&resolution=8", "blocks: block 1 'avg.k5.p0': its window does not fit the 2 px map"),
        ("blocks=foo3", "blocks: block 1 'foo3': unknown block kind 'foo'"),
        ("blocks=conv32.k4", "kernel k=4 must be odd"),
        ("blocks=conv32.z3", "unknown option 'z3' for conv"),
        ("blocks=conv32.s9", "s=9 is out of range; allowed: 1 to 4"),
        ("blocks=conv32.silu.relu", "'relu' contradicts another act option"),
        ("blocks=incep3", "incep takes 6 channel numbers"),
        ("blocks=res", "res takes 1 channel number"),
        ("blocks=max32", "max takes no channel number"),
        ("blocks=bottle66", "66 is not a multiple of 4"),
        ("blocks=conv0", "channels must be from 1 to 4096"),
        ("blocks=conv32,,res64", "blocks: block 2 ''"),
        ("blocks=max.k3.p2", "padding p=2 must be at most half the kernel"),
        (
            "blocks=conv8.x64,conv8.x64,conv8.x64,conv8.x64,conv8.x64,conv8.x64,conv8.x64,conv8.x64,conv8.x2",
            "at most 512",
        ),
        ("blocks=mb24.é", "only letters, digits"),
    ],
)
def test_errors_name_the_key_and_the_block(query: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_query(f"family=blocks&{query}")
    assert message in str(info.value)


def test_min_resolution_is_the_smallest_that_fits() -> None:
    config = parse_query("family=blocks&blocks=res64.s2,res64.s2,res64.s2,res64.s2&resolution=64")
    side = config.min_resolution
    assert side > 8
    dataclasses.replace(config, resolution=side)
    with pytest.raises(ConfigError, match="below 1 pixel"):
        dataclasses.replace(config, resolution=side - 1)
    model = build(dataclasses.replace(config, resolution=side), device="meta").module.eval()
    assert model(torch.zeros(1, 3, side, side, device="meta")).shape == (1, 1000)


def test_python_callers_get_canonical_strings() -> None:
    config = BlocksConfig(stem="CONV16.S1", blocks="mb16.e1 ,res32.s2")
    assert (config.stem, config.blocks) == ("conv16", "mb16.e1,res32.s2")
    assert parse_query(format_query(config)) == config
    for bad in (5, None, "", ["conv8"]):
        with pytest.raises(ConfigError):
            BlocksConfig(blocks=bad)  # type: ignore[arg-type]


def test_repeats_stride_only_first_and_chain_channels() -> None:
    config = parse_query("family=blocks&stem=conv8&blocks=res16.s2.x3,dense.k4.l2.x2&resolution=32")
    body = [t for t in config.layers if t.key == "blocks"]
    assert [(t.stride, t.in_channels, t.out_channels, t.out_side) for t in body] == [
        (2, 8, 16, 16),
        (1, 16, 16, 16),
        (1, 16, 16, 16),
        (1, 16, 24, 16),
        (1, 24, 32, 16),
    ]
    built = build(config, device="meta")
    assert built.stages[1].blocks == ("stage1.0", "stage1.1", "stage1.2")
    assert built.module.fc.in_features == 32


def test_scale_blocks_applies_the_compound_rule() -> None:
    # widths x 1.1 rounded to multiples of 8 (40 x 1.1 = 44 -> 48), repeats x 1.2 rounded up (1 -> 2)
    assert scale_blocks("blocks", HYBRID_EFFICIENT["blocks"], 1.1, 1.2) == "mb16.e1.x2,mb24.s2.x2,mb48.k5.s2.x2"
    assert scale_blocks("blocks", "res64.x2,dense.k12.l6,incep64-96-128-16-32-32,trans,conv8.i3", 2.0, 2.0) == (
        "res128.x4,dense.k24.l12.x2,incep128-192-256-32-64-64.x2,trans.x2,conv16.x2"
    )
    assert scale_blocks("blocks", "MB24.S2.E6", 1.0, 1.0) == "mb24.s2"
    base = parse_query("preset=hybrid_efficient")
    wider = dataclasses.replace(base, blocks=scale_blocks("blocks", base.blocks, 2.0, 1.0))
    assert profile(wider).params > profile(base).params


@pytest.mark.parametrize(
    ("query", "side"),
    [
        ("preset=hybrid_efficient", 64),
        ("preset=hybrid_resnet", 64),
        (f"family=blocks&blocks={EVERY_KIND}&resolution=128", 128),
        ("preset=googlenet&width=0.25", 64),
        ("preset=alexnet&width=0.25", 63),
    ],
)
def test_signal_flow_reads_the_builders_structure(query: str, side: int) -> None:
    config = parse_query(query)
    result = signal(config, resolution=side, batch=2)
    rows = [r for r in profile(config).layers if r.depth is not None]  # conv/linear layers that run
    assert [(p.depth, p.name, p.stage, p.block) for p in result.points] == [
        (r.depth, r.name, r.stage, r.block) for r in rows
    ]
    # a fresh offset conv is zero-initialised (a regular sampling grid): its output is all zeros
    assert all(p.activation_std > 0 or p.name.endswith("offset_conv") for p in result.points)
    assert all(p.grad_norm > 0 for p in result.points)
    stages = [s.name for s in build(config, device="meta").stages]
    assert [name for name, _ in result.stages] == [s for s in stages if any(p.stage == s for p in result.points)]
