"""Compound scaling: the rule, scaled configs per family, rounding factors, B0-B7, the MobileNetV1
grid and pinned configs. Profiles are memoised per query so the suite stays fast."""

from __future__ import annotations

import itertools
import json
import math
from functools import cache
from pathlib import Path

import pytest

from explorer.analysis.scaling import (
    PAPER_RULE,
    ROUNDING_BAND,
    Multipliers,
    Rule,
    compare,
    explain_rounding,
    format_pins,
    mobilenet_grid,
    nearest_published,
    parse_pins,
    phi_values,
    published_efficientnets,
    rule_base,
    rule_config,
    scale_config,
    stage_shapes,
    sweep,
)
from explorer.config import parse_query, preset_config
from explorer.knobs import ConfigError
from explorer.measure.profile import Profile, profile
from explorer.views.scaling_tables import compare_frame, sweep_frame

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((Path(__file__).parent / "data" / "torchvision.json").read_text())["models"]


@cache
def _profile(query: str) -> Profile:
    return profile(parse_query(query))


def cached(config) -> Profile:
    return _profile(config.query)


B0 = parse_query("family=efficientnet")


def test_paper_rule_is_about_two():
    assert PAPER_RULE.flops_ratio == pytest.approx(1.2 * 1.1**2 * 1.15**2)
    assert PAPER_RULE.flops_ratio == pytest.approx(1.9203, abs=1e-4)
    assert PAPER_RULE.deviation == pytest.approx(-0.0797, abs=1e-4)
    assert Rule(1.0, 1.0, 1.0).flops_ratio == 1.0
    # B3's own multipliers (depth 1.4, width 1.2, 300 px) are the rule's cost at phi ~ 1.97.
    assert PAPER_RULE.nominal_phi(Multipliers(1.4, 1.2, 300 / 224)) == pytest.approx(1.970, abs=1e-3)


def test_phi_zero_is_b0_exactly():
    for rule in (PAPER_RULE, Rule(1.5, 1.3, 1.05)):
        config = rule_config(B0, rule, 0.0).config
        result = cached(config)
        assert result.params == REFERENCE["efficientnet_b0"]["params"] == 5_288_548
        assert result.macs == cached(preset_config("efficientnet_b0")).macs
        assert result.resolution == 224
    point = sweep(B0, PAPER_RULE, (0.0,), cached)[0]
    assert (point.params, point.macs, point.macs_vs_rule) == (5_288_548, 385_814_752, 1.0)


@pytest.mark.parametrize("phi", [1.0, 3.0, 6.0])
def test_unit_coefficients_leave_the_network_unchanged(phi: float):
    config = rule_config(B0, Rule(1.0, 1.0, 1.0), phi).config
    assert (cached(config).params, cached(config).macs, cached(config).resolution) == (5_288_548, 385_814_752, 224)
    for query in ("preset=resnet50", "preset=mobilenet_v2", "preset=resnet56", "preset=densenet121"):
        base = parse_query(query)
        scaled = rule_config(base, Rule(1.0, 1.0, 1.0), phi)
        assert cached(scaled.config).params == cached(base).params
        assert cached(scaled.config).macs == cached(base).macs
        assert scaled.achieved == Multipliers(1.0, 1.0, 1.0)


def test_efficientnet_rule_resolution_and_query():
    scaled = rule_config(parse_query("preset=efficientnet_b3"), Rule(1.2, 1.2, 1.15), 3.0)
    assert scaled.config.query == "family=efficientnet&phi=3&beta=1.2"  # overrides removed: the rule from B0
    assert scaled.config.input_resolution == round(224 * 1.15**3) == 341
    assert scaled.achieved.width == pytest.approx(1.2**3)


@pytest.mark.parametrize("phi", [1, 2, 3, 4])
def test_prediction_within_documented_rounding_band(phi: int):
    point = sweep(B0, PAPER_RULE, (0.0, float(phi)), cached)[1]
    assert point.predicted_macs == pytest.approx(385_814_752 * 1.92027**phi, rel=1e-5)
    assert point.nominal_macs == pytest.approx(385_814_752 * 2**phi)
    assert ROUNDING_BAND[0] <= point.macs_vs_rule <= ROUNDING_BAND[1]
    # ceil() only adds blocks: every stage has at least n * alpha^phi of them
    start = sweep(B0, PAPER_RULE, (0.0,), cached)[0]
    for a, b in zip(start.stages, point.stages, strict=True):
        assert b.blocks >= math.floor(a.blocks * 1.2**phi - 1e-9)
        assert b.blocks == math.ceil(a.blocks * 1.2**phi - 1e-9)
        assert b.channels % 8 == 0


def test_phi_three_golden_numbers_and_factors_multiply_to_the_ratio():
    explanation = explain_rounding(B0, PAPER_RULE, 3.0, cached)
    assert explanation.query == "family=efficientnet&phi=3"
    assert explanation.macs == cached(parse_query("family=efficientnet&phi=3")).macs
    factors = {f.name: f for f in explanation.factors}
    assert math.prod(f.ratio for f in explanation.factors) == pytest.approx(explanation.ratio, rel=1e-12)
    assert factors["depth"].expected == pytest.approx(1.2**3)
    assert factors["width"].expected == pytest.approx(1.1**6)
    assert factors["resolution"].expected == pytest.approx(1.15**6)
    # per-stage ceil adds blocks: 16 blocks x 1.728 = 27.6 -> 31
    body = [s for s in explanation.stages if s.base_blocks]
    assert sum(s.base_blocks for s in body) == 16 and sum(s.blocks for s in body) == 31
    assert factors["depth"].ratio > 1.05
    assert "27.6" in factors["depth"].sentence and "31" in factors["depth"].sentence
    # feature maps round up: stage 7 is 11x11 at 341 px where 7 x 1.15^3 = 10.65
    assert body[-1].side == 11 and body[-1].ideal_side == pytest.approx(7 * 1.15**3)


def test_scale_config_per_family():
    m = Multipliers(2.0, 2.0, 1.0)
    r18 = scale_config(parse_query("preset=resnet18"), m)
    assert r18.config.query == "preset=resnet34&width=128"  # 36 -> nearest basic depth 34
    assert r18.achieved.depth == pytest.approx(34 / 18) and r18.unapplied == ()
    assert parse_query(r18.config.query) == r18.config
    r50 = scale_config(parse_query("preset=resnet50"), Multipliers(1.2, 1.0, 1.0))
    assert r50.config.depth == 50  # 60 is nearer 50 than 101 in ratio
    cifar = scale_config(parse_query("preset=resnet56"), m)
    assert cifar.config.depth == 110 and cifar.config.width == 32
    mobile = scale_config(parse_query("preset=mobilenet_v2"), Multipliers(1.44, 0.5, 192 / 224))
    assert mobile.config.alpha == 0.5 and mobile.config.input_resolution == 192
    assert mobile.unapplied == ("depth",) and any("no depth knob" in n for n in mobile.notes)
    vgg = scale_config(parse_query("preset=vgg11"), Multipliers(1.5, 2.0, 1.0))
    assert vgg.config.depth == 16 and vgg.unapplied == ("width",)
    dense = scale_config(parse_query("preset=densenet121"), Multipliers(1.5, 1.25, 1.0))
    assert dense.config.blocks == (9, 18, 36, 24) and dense.config.k == 40
    eff = scale_config(B0, PAPER_RULE.multipliers(2.0))
    assert cached(eff.config).macs == cached(rule_config(B0, PAPER_RULE, 2.0).config).macs


def test_published_points_and_nearest():
    points = published_efficientnets(PAPER_RULE, cached)
    assert [p.name for p in points] == [f"B{i}" for i in range(8)]
    for p in points:
        assert p.params == REFERENCE[p.preset]["params"]
        assert p.macs == pytest.approx(REFERENCE[p.preset]["macs"], rel=0.005)
    assert [round(p.nominal_phi, 2) for p in points][:4] == [0.0, 0.36, 1.34, 1.97]
    assert all(a.macs < b.macs for a, b in itertools.pairwise(points))
    b3 = cached(preset_config("efficientnet_b3"))
    nearest = nearest_published(b3, points)
    assert (nearest.name, nearest.params_ratio, nearest.macs_ratio) == ("B3", 1.0, 1.0)
    design = cached(parse_query("family=efficientnet&phi=3&beta=1.2"))
    assert design.params == 26_186_674 and design.macs == 5_255_200_096
    assert nearest_published(design, points).name == "B4"


def test_mobilenet_grid_is_monotone_like_the_papers_tables():
    cells = mobilenet_grid(profiler=cached)
    grid = {(c.alpha, c.resolution): c for c in cells}
    assert len(grid) == 16
    alphas, sides = (1.0, 0.75, 0.5, 0.25), (224, 192, 160, 128)
    for side in sides:  # thinner -> fewer MACs and parameters (Table 6's shape)
        assert all(grid[(a, side)].macs > grid[(b, side)].macs for a, b in itertools.pairwise(alphas))
        assert all(grid[(a, side)].params > grid[(b, side)].params for a, b in itertools.pairwise(alphas))
    for alpha in alphas:  # smaller input -> fewer MACs, same parameters (Table 7's shape)
        assert all(grid[(alpha, a)].macs > grid[(alpha, b)].macs for a, b in itertools.pairwise(sides))
        assert len({grid[(alpha, s)].params for s in sides}) == 1
    # the paper's numbers: 569 M mult-adds and 4.2 M parameters for 1.0 MobileNet-224, 41 M for 0.25
    assert grid[(1.0, 224)].macs == pytest.approx(569e6, rel=0.005)
    assert grid[(1.0, 224)].params == pytest.approx(4.2e6, rel=0.01)
    assert grid[(0.25, 224)].macs / 1e6 == pytest.approx(41, abs=1)
    assert grid[(1.0, 128)].macs / 1e6 == pytest.approx(186, abs=1)


def test_pins_survive_the_url_round_trip():
    configs = [
        parse_query(q)
        for q in ("preset=efficientnet_b3", "family=efficientnet&phi=3&beta=1.2", "preset=resnet50&deform=3,4")
    ]
    text = format_pins(configs)
    assert "&" not in text
    assert parse_pins(text) == configs
    from urllib.parse import parse_qs, urlencode

    url = urlencode({"preset": "resnet18", "pins": text})
    assert parse_pins(parse_qs(url)["pins"][0]) == configs
    assert parse_pins("") == [] and parse_pins(None) == []
    assert parse_pins(format_pins(configs[:1] * 2)) == configs[:1]


def test_bad_pins_name_the_pin():
    with pytest.raises(ConfigError, match=r"pin 2 \('family=resnet;depth=51'\)"):
        parse_pins("preset=resnet18|family=resnet;depth=51")
    five = "|".join(f"family=plain;depth={d}" for d in (4, 5, 6, 7, 8))
    with pytest.raises(ConfigError, match="at most 4"):
        parse_pins(five)


def test_compare_rows_and_differences():
    configs = [preset_config("efficientnet_b0"), preset_config("efficientnet_b1")]
    rows = compare(configs, cached)
    total = rows[-1]
    assert total.stage == "total"
    assert total.params == (5_288_548, 7_794_184)
    assert total.blocks == (16, 23)
    frame = compare_frame(rows)
    assert frame.loc[frame["stage"] == "total", "2: Δparams vs 1"].item() == 7_794_184 - 5_288_548
    by_stage = {r.stage: r for r in rows}
    assert by_stage["stage2"].blocks == (2, 3)  # ceil(2 x 1.1)


def test_stage_shapes_sum_to_totals():
    result = cached(preset_config("resnet50"))
    shapes = stage_shapes(result)
    assert [s.name for s in shapes] == ["stem", "stage1", "stage2", "stage3", "stage4", "head"]
    assert [s.blocks for s in shapes[1:5]] == [3, 4, 6, 3]
    assert [s.channels for s in shapes[1:5]] == [256, 512, 1024, 2048]
    assert sum(s.params for s in shapes) == result.params and sum(s.macs for s in shapes) == result.macs


def test_phi_values_and_sweep_frame():
    assert phi_values(4) == (0.0, 1.0, 2.0, 3.0, 4.0)
    assert phi_values(2, 1.5) == (0.0, 1.0, 1.5, 2.0)
    assert rule_base(parse_query("preset=efficientnet_b5")) == B0
    frame = sweep_frame(sweep(B0, PAPER_RULE, (0.0, 1.0), cached))
    assert next(iter(frame["MACs / rule"])) == 1.0
    # phi=1 (depth x1.2, width x1.1) is B2's depth and width: the same parameters, at 258 px instead of 288
    assert list(frame["params"]) == [5_288_548, REFERENCE["efficientnet_b2"]["params"]]
    assert list(frame["resolution"]) == [224, 258]


def test_cli_scaling_json_and_errors(capsys):
    from explorer.cli import main

    assert main(["scaling", "preset=mobilenet_v1", "--max-phi", "1", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["query"] == "family=mobilenet_v1&alpha=1.1&resolution=258"
    assert record["design"]["unapplied"] == ["depth"]
    assert [p["phi"] for p in record["curve"]] == [0.0, 1.0]
    assert record["curve"][0]["macs"] == 568_740_352
    assert record["rule"]["flops_ratio"] == pytest.approx(1.92027, abs=1e-5)
    assert main(["scaling", "family=efficientnet", "--beta", "1.2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --beta") and len(err.strip().splitlines()) == 1
    assert main(["scaling", "preset=resnet18", "--max-phi", "9"]) == 2
    assert "--max-phi=9.0 is out of range" in capsys.readouterr().err


# -- each family says how it scales (ModelConfig.scale_knobs), no isinstance chain -----------------
def _family_defaults():
    from explorer.config import default_config
    from explorer.families import FAMILIES

    return [default_config(name) for name in FAMILIES]


@pytest.mark.parametrize("config", _family_defaults(), ids=lambda c: c.family)
def test_every_family_scales_through_its_own_rule(config):
    from explorer.compound import Multipliers

    same = scale_config(config, Multipliers())
    assert same.config == config and same.achieved == Multipliers() and same.unapplied == ()
    scaled = scale_config(config, Multipliers(1.5, 1.25, 1.0))
    applied = {"depth", "width"} - set(scaled.unapplied)
    # What a family cannot scale it says, with a note; what it can, it does.
    assert len(scaled.notes) >= len(scaled.unapplied)
    if "depth" in applied:
        assert scaled.achieved.depth > 1.0, scaled.notes
    if "width" in applied:
        assert scaled.achieved.width > 1.0, scaled.notes
    assert profile(scaled.config).macs > profile(config).macs or not applied


def test_the_composer_and_the_classic_nets_scale_too():
    from explorer.compound import Multipliers

    hybrid = scale_config(parse_query("preset=hybrid_efficient"), Multipliers(2.0, 1.5, 1.0))
    assert hybrid.config.blocks == "mb24.e1.x2,mb40.s2.x2,mb64.k5.s2.x2"  # 16x1.5=24, 24x1.5=36->40, 40x1.5=60->64
    assert hybrid.unapplied == ()
    alexnet = scale_config(parse_query("preset=alexnet"), Multipliers(1.2, 1.3, 1.0))
    assert alexnet.config.width == 1.25 and alexnet.unapplied == ("depth",)
    assert any("fixed layer list" in note for note in alexnet.notes)


def test_rule_constants_live_in_one_place():
    from explorer.compound import PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, flops_ratio
    from explorer.families.efficientnet import EfficientNetConfig

    b0 = EfficientNetConfig()
    assert (b0.alpha, b0.beta, b0.gamma) == (PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA) == (1.2, 1.1, 1.15)
    assert Rule() == Rule(PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA)
    assert b0.flops_ratio == Rule().flops_ratio == flops_ratio(1.2, 1.1, 1.15) == pytest.approx(1.920, abs=1e-3)
