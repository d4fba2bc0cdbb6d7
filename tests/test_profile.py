"""explorer.measure.profile: per-layer rows with values worked out by hand for ResNet-18 at 224 px."""

from __future__ import annotations

import dataclasses

import pytest

from explorer.config import parse_query
from explorer.families import FAMILIES, build
from explorer.measure.profile import Profile, profile

pytestmark = pytest.mark.usefixtures("single_thread")

FLOAT = 4  # bytes


@pytest.fixture(scope="module")
def resnet18() -> Profile:
    return profile(parse_query("preset=resnet18"))


def test_totals(resnet18: Profile) -> None:
    assert (resnet18.query, resnet18.family, resnet18.resolution, resnet18.in_channels) == (
        "preset=resnet18",
        "resnet",
        224,
        3,
    )
    assert resnet18.params == 11_689_512
    assert resnet18.macs == 1_814_073_344
    assert resnet18.flops == 2 * resnet18.macs
    assert resnet18.weight_bytes == FLOAT * resnet18.params
    assert resnet18.activation_bytes == sum(r.activation_bytes for r in resnet18.layers)


def test_stem_rows(resnet18: Profile) -> None:
    conv1, bn1, relu, maxpool = resnet18.layers[:4]
    assert (conv1.name, conv1.type, conv1.stage, conv1.block, conv1.depth) == ("conv1", "Conv2d", "stem", None, 1)
    assert conv1.params == 64 * 3 * 7 * 7
    assert conv1.macs == 64 * 112 * 112 * 3 * 7 * 7
    assert conv1.output_shape == (1, 64, 112, 112)
    assert conv1.activation_bytes == 64 * 112 * 112 * FLOAT
    assert conv1.stride == 2
    assert (bn1.type, bn1.params, bn1.macs, bn1.depth) == ("BatchNorm2d", 2 * 64, 0, None)  # BN counts zero
    assert bn1.activation_bytes == 64 * 112 * 112 * FLOAT
    assert (relu.type, relu.activation_bytes) == ("ReLU", 0)  # in-place: no new memory
    assert (maxpool.output_shape, maxpool.stride, maxpool.macs) == ((1, 64, 56, 56), 4, 0)


def test_depth_counts_weighted_layers_in_execution_order(resnet18: Profile) -> None:
    weighted = [r for r in resnet18.layers if r.depth is not None]
    # 1 stem conv + 8 blocks x 2 convs + 3 projections + fc.
    assert len(weighted) == 21
    assert [r.depth for r in weighted] == list(range(1, 22))
    assert all(r.type in ("Conv2d", "Linear") for r in weighted)
    names = [r.name for r in weighted]
    # torchvision's BasicBlock runs the projection after the residual branch.
    order = ["layer2.0.conv1", "layer2.0.conv2", "layer2.0.downsample.0", "layer2.1.conv1"]
    assert [names.index(n) for n in order] == sorted(names.index(n) for n in order)
    assert names[-1] == "fc"


def test_head_rows(resnet18: Profile) -> None:
    rows = {r.name: r for r in resnet18.layers}
    fc = rows["fc"]
    assert (fc.params, fc.macs, fc.output_shape, fc.stride, fc.stage) == (513_000, 512_000, (1, 1000), None, "head")
    last_conv = rows["layer4.1.conv2"]
    assert last_conv.output_shape == (1, 512, 7, 7)
    assert last_conv.stride == 32
    assert last_conv.macs == 512 * 7 * 7 * 512 * 9
    assert last_conv.activation_bytes == 512 * 7 * 7 * FLOAT
    assert "(root)" not in rows
    assert "layer4" not in rows and "layer4.1" not in rows  # containers without own work get no row


def test_grouped_by_stage(resnet18: Profile) -> None:
    stages = {g["stage"]: g for g in resnet18.grouped("stage")}
    assert list(stages) == ["stem", "stage1", "stage2", "stage3", "stage4", "head"]
    assert stages["stem"]["params"] == 64 * 3 * 49 + 2 * 64
    # Two basic blocks of two 64->64 3x3 convs, each followed by BN.
    assert stages["stage1"]["params"] == 2 * (2 * 64 * 64 * 9 + 2 * 2 * 64)
    assert stages["stage1"]["macs"] == 4 * 64 * 56 * 56 * 64 * 9
    # Stage 2: 64->128 and 128->128 convs, a 1x1 projection with its BN, then a 128->128 block.
    assert stages["stage2"]["params"] == (64 * 128 * 9 + 128 * 128 * 9 + 4 * 128) + (64 * 128 + 2 * 128) + (
        2 * 128 * 128 * 9 + 4 * 128
    )
    assert stages["head"]["params"] == 513_000
    assert sum(g["params"] for g in stages.values()) == resnet18.params
    assert sum(g["layers"] for g in stages.values()) == len(resnet18.layers)
    by_type = {g["type"]: g for g in resnet18.grouped("type")}
    assert by_type["BatchNorm2d"]["macs"] == 0
    assert by_type["Conv2d"]["macs"] + by_type["Linear"]["macs"] == resnet18.macs
    blocks = {g["block"]: g for g in resnet18.grouped("block")}
    assert blocks["layer1.0"]["params"] == 2 * 64 * 64 * 9 + 2 * 2 * 64


def test_to_dict_is_plain_data(resnet18: Profile) -> None:
    data = resnet18.to_dict()
    assert data["params"] == 11_689_512
    assert data["flops"] == 2 * data["macs"]
    assert data["weight_bytes"] == FLOAT * 11_689_512
    assert data["layers"][0]["output_shape"] == [1, 64, 112, 112]
    assert data["layers"][-1]["name"] == "fc"


def test_one_channel_input_changes_only_the_first_conv() -> None:
    grey = profile(parse_query("preset=resnet18&in_channels=1"))
    assert grey.in_channels == 1
    assert grey.params == 11_689_512 - 64 * 2 * 49
    assert grey.macs == 1_814_073_344 - 64 * 112 * 112 * 2 * 49


def test_resolution_scales_macs_not_params() -> None:
    double = profile(parse_query("preset=resnet18&resolution=448"))
    assert double.params == 11_689_512
    # Every feature map has four times the pixels (448 halves evenly down to 14x14); the fc is unchanged.
    assert double.macs == (1_814_073_344 - 512_000) * 4 + 512_000
    assert double.layers[-2].output_shape == (1, 512, 1, 1)


@pytest.mark.parametrize("query", ["preset=resnet20&deform=2", "family=plain&depth=8&deform=on&skip=on"])
def test_profile_of_a_real_model_equals_the_meta_profile(query: str) -> None:
    config = parse_query(query)
    meta = profile(config)
    real = profile(config, build(config, device="cpu"))
    assert (real.params, real.macs, real.activation_bytes) == (meta.params, meta.macs, meta.activation_bytes)
    assert real.layers == meta.layers


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_default_profiles_with_rows_summing_to_totals(family: str) -> None:
    config = FAMILIES[family]()
    config = dataclasses.replace(config, resolution=max(32, config.min_resolution))
    result = profile(config)
    assert result.params == sum(r.params for r in result.layers) > 0
    assert result.macs == sum(r.macs for r in result.layers) > 0
    assert result.layers[0].depth == 1  # every family starts with a conv
    assert result.layers[-1].output_shape == (1, 1000)
    stage_names = [s.name for s in build(config, device="meta").stages]
    assert [g["stage"] for g in result.grouped("stage")] == [
        s for s in stage_names if any(r.stage == s for r in result.layers)
    ]


@pytest.mark.parametrize(
    "query", ["preset=googlenet", "preset=efficientnet_b0", "preset=resnet50&deform=4", "preset=densenet121"]
)
def test_analyses_of_a_lent_model_equal_those_of_a_fresh_build(query: str) -> None:
    """explorer.measure.meta_models lends one meta build to the profile and the training memory in
    turn: whatever order they run in, each sees the model as a fresh build."""
    from explorer.measure.memory import training_memory
    from explorer.measure.meta_models import lent

    config = parse_query(query)
    fresh = profile(config, build(config, device="meta"))
    first = profile(config)
    memory = training_memory.__wrapped__(config, 2)
    modes = [m.training for m in build(config, device="meta").module.modules()]
    with lent(config) as built:
        assert [m.training for m in built.module.modules()] == modes
        assert not any(m._forward_hooks or m._forward_pre_hooks for m in built.module.modules())
        assert all("forward" not in m.__dict__ for m in built.module.modules())
    assert profile(config) == first == fresh
    assert training_memory.__wrapped__(config, 2) == memory
