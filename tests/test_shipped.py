"""The shipped models (assets/models): present, small, intact, and as good as their cards say.

Each card measured accuracy and the Grad-CAM pointing game on 2,000 held-out images of its own seed;
here both are re-measured on RE_MEASURED fresh images of another seed (the card's figure must hold
within 2 points, plus the sampling error of the smaller set: see ``tolerance``)."""

from __future__ import annotations

import hashlib
import json
import math
import shutil

import pytest

from explorer.analysis.saliency import POINTING_RULE
from explorer.analysis.training import shapes_scores
from explorer.cli import main
from explorer.config import parse_query
from explorer.runtime.shipped import (
    MODELS_DIR,
    card_goals,
    load_shipped,
    shipped_deformable,
    shipped_for,
    shipped_models,
)
from explorer.runtime.weights import WeightsError

MODELS = shipped_models()
RE_MEASURED = 400
FRESH_SEED = 424_242
MB = 1_000_000


def tolerance(p: float, n: int = RE_MEASURED) -> float:
    """2 points, widened by two standard errors of a proportion measured on ``n`` images."""
    return 0.02 + 2 * math.sqrt(max(p * (1 - p), 0.01**2) / n)


def test_the_five_kinds_ship_and_fit_the_size_budget():
    configs = [m.config for m in MODELS]
    pairs = zip(configs, MODELS, strict=True)
    assert any(c.family == "resnet" and c.stem == "cifar" and not m.deformable for c, m in pairs)
    assert any(c.family == "mobilenet_v2" and c.alpha < 1 for c in configs)
    assert any(c.family == "densenet" and c.stem == "cifar" and c.bn_size > 1 and c.compression < 1 for c in configs)
    assert any(m.deformable and not m.modulated for m in MODELS)
    assert any(m.deformable and m.modulated for m in MODELS)
    assert all(m.weights_path.stat().st_size <= 5 * MB for m in MODELS)
    assert sum(m.weights_path.stat().st_size for m in MODELS) <= 25 * MB


@pytest.mark.parametrize("model", MODELS, ids=[m.name for m in MODELS])
def test_a_shipped_model_loads_and_re_measures_its_card(model, single_thread):
    card = model.card
    assert hashlib.sha256(model.weights_path.read_bytes()).hexdigest() == card["sha256"]
    assert card["held_out"]["n"] == 2000 and card["shapes_version"] == 2
    assert card["held_out"]["pointing_rule"] == POINTING_RULE  # measured with the rule re-measured here
    assert card["command"].startswith("python -m explorer --device ") and f"--name {model.name}" in card["command"]
    assert "CC0" in card["licence"]
    if "started_from" in card:  # refined from another run's weights: the command is the whole recipe
        start = card["started_from"]
        assert card["command"].startswith(start["command"] + " && ") and "--from " in card["command"]
        assert card["total_steps"] == start["steps"] + card["steps"]
        assert card["recipe_wall_s"] == pytest.approx(start["wall_s"] + card["wall_s"], abs=0.2)
    assert card["goals"] == card_goals(card["held_out"]["accuracy"], card["held_out"]["pointing_game"])
    loaded = load_shipped(model)
    assert loaded.categories == tuple(card["classes"]) and model.name in loaded.weights
    scores = shapes_scores(loaded.built, seed=FRESH_SEED, n=RE_MEASURED)
    accuracy, pointing = card["held_out"]["accuracy"], card["held_out"]["pointing_game"]
    assert abs(scores.accuracy - accuracy) <= tolerance(accuracy), (scores, card["held_out"])
    assert abs(scores.pointing - pointing) <= tolerance(pointing), (scores, card["held_out"])


def test_a_damaged_file_is_refused(tmp_path):
    model = MODELS[0]
    shutil.copy(MODELS_DIR / f"{model.name}.json", tmp_path)
    data = bytearray(model.weights_path.read_bytes())
    data[-100] ^= 0xFF
    (tmp_path / f"{model.name}.pt").write_bytes(bytes(data))
    (damaged,) = shipped_models(tmp_path)
    with pytest.raises(WeightsError, match="differs from its card"):
        load_shipped(damaged)


def test_a_config_finds_the_shipped_model_of_its_family():
    resnet = shipped_for(parse_query("preset=resnet18"))
    assert resnet is not None and resnet.family == "resnet" and not resnet.deformable
    deform = shipped_for(parse_query("preset=resnet18&deform=4"))
    assert deform is not None and deform.deformable and not deform.modulated
    modulated = shipped_for(parse_query("preset=resnet18&deform=4&modulated=on"))
    assert modulated is not None and modulated.modulated
    assert shipped_for(parse_query("preset=vgg11")) is None
    assert shipped_deformable() is not None and not shipped_deformable().modulated
    for model in MODELS:
        assert shipped_for(model.config) == model  # its own query finds itself


def test_models_command_lists_every_card(capsys):
    """The shipped models, then the ImageNet models that come inside a package (EfficientNet-Lite0)."""
    from explorer.runtime.packaged import packaged_models

    packaged = packaged_models()
    assert [p.name for p in packaged] == ["efficientnet_lite0"]
    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in listed] == [m.name for m in MODELS] + ["efficientnet_lite0"]
    assert [m["kind"] for m in listed] == ["shipped"] * len(MODELS) + ["packaged"]
    assert all(m["sha256"] == s.card["sha256"] and m["query"] == s.query for m, s in zip(listed, MODELS, strict=False))
    lite = listed[-1]
    assert lite["query"] == "preset=efficientnet_lite0" and lite["sha256"] == packaged[0].card["sha256"]
    assert (lite["weights"] is None) == (not packaged[0].available)
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(m.name in line for m, line in zip(MODELS, lines, strict=False)) and len(lines) == len(MODELS) + 1
    installed = f"installed ({packaged[0].installed_version()})" if packaged[0].available else "not installed"
    assert "ImageNet 75.1% top-1 (published)" in lines[-1] and lines[-1].endswith(installed)


def test_same_architecture_compares_what_is_built_not_the_query_text():
    from explorer.runtime.shipped import same_architecture

    explicit = parse_query("family=resnet&stem=cifar&depth=8&width=16&classes=10")
    automatic = parse_query("preset=resnet20&depth=8")  # width: the CIFAR stem's automatic 16
    assert explicit.query != automatic.query and same_architecture(explicit, automatic)
    assert not same_architecture(explicit, parse_query("family=resnet&stem=cifar&depth=8&width=8"))
    assert not same_architecture(explicit, parse_query("family=plain&depth=8"))
