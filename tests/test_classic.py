"""AlexNet, GoogLeNet and Inception-v3 against torchvision (tests/data/torchvision_classic.json), and
their knobs: width, dropout, auxiliary classifiers, input transform."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from explorer.config import parse_query
from explorer.families import build
from explorer.knobs import ConfigError
from explorer.measure.profile import profile

pytestmark = pytest.mark.usefixtures("single_thread")

REFERENCE = json.loads((Path(__file__).parent / "data" / "torchvision_classic.json").read_text())["models"]


def test_reference_copy() -> None:
    assert set(REFERENCE) == {"alexnet", "googlenet", "inception_v3"}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_reference_is_what_torchvision_publishes(name: str) -> None:
    """The copied constructor measurements equal the weights' published metadata (read offline)."""
    reference = REFERENCE[name]
    meta = torchvision.models.get_model_weights(name).DEFAULT.meta
    assert reference["params"] == reference["published_num_params"] == meta["num_params"]
    assert round(reference["macs"] / 1e9, 3) == reference["published_gflops"] == meta["_ops"]


@pytest.mark.parametrize("name", list(REFERENCE))
def test_params_and_macs_match_torchvision(name: str) -> None:
    reference = REFERENCE[name]
    config = parse_query(f"preset={name}")
    assert (config.input_resolution, config.classes) == (reference["resolution"], reference["num_classes"])
    smallest = config if name != "inception_v3" else parse_query("preset=inception_v3&aux=off")
    assert smallest.min_resolution == reference["published_min_size"][0]
    result = profile(config)
    assert result.params == reference["params"]
    assert result.macs == reference["macs"]  # exact, not only within DESIGN.md's 0.5%
    assert result.params == sum(r.params for r in result.layers)


def _torchvision(name: str, **kwargs: object) -> nn.Module:
    reference = REFERENCE[name]
    extra = {"init_weights": True} if name != "alexnet" else {}
    return torchvision.models.get_model(name, weights=None, **reference["constructor_kwargs"], **extra, **kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REFERENCE))
def test_torchvision_state_dict_loads_strictly(name: str) -> None:
    torch.manual_seed(0)
    transform = {} if name == "alexnet" else {"transform_input": True}  # as with the ImageNet weights
    theirs = _torchvision(name, **transform).eval()
    ours = build(parse_query(f"preset={name}"), device="cpu").module.eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(1, 3, 80, 80)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("query", "kwargs"), [("preset=googlenet&aux=on", {"aux_logits": True})])
def test_aux_state_dicts_match(query: str, kwargs: dict[str, object]) -> None:
    theirs = {
        k: tuple(v.shape)
        for k, v in torchvision.models.googlenet(weights=None, init_weights=False, **kwargs).state_dict().items()
    }
    ours = {k: tuple(v.shape) for k, v in build(parse_query(query), device="meta").module.state_dict().items()}
    assert list(ours) == list(theirs) and ours == theirs


def test_inception_without_aux_matches_torchvision() -> None:
    with torch.device("meta"):
        theirs = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    ours = build(parse_query("preset=inception_v3&aux=off"), device="meta").module
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, v.shape) for k, v in theirs.state_dict().items()
    ]
    assert profile(parse_query("preset=inception_v3&aux=off")).macs == REFERENCE["inception_v3"]["macs"]


@pytest.mark.parametrize("family", ["googlenet", "inception_v3"])
def test_aux_classifiers_train_and_cost_no_inference_macs(family: str) -> None:
    torch.manual_seed(0)
    side = 160 if family == "googlenet" else 299  # Inception-v3's aux head needs 299 px
    config = parse_query(f"family={family}&aux=on&width=0.25&classes=7&resolution={side}")
    model = build(config, device="cpu").module
    model.train()
    logits = model(torch.randn(2, 3, side, side))
    assert logits.shape == (2, 7)  # forward returns the main logits, in training mode too
    assert len(model.aux_outputs) == (2 if family == "googlenet" else 1)
    assert all(a.shape == (2, 7) for a in model.aux_outputs)
    target = torch.tensor([1, 3])
    loss = F.cross_entropy(logits, target) + 0.3 * sum(F.cross_entropy(a, target) for a in model.aux_outputs)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    model(torch.randn(1, 3, side, side))
    assert model.aux_outputs == ()
    with_aux, without = profile(config), profile(dataclasses.replace(config, aux=False))
    assert with_aux.macs == without.macs and with_aux.params > without.params
    aux_rows = [r for r in with_aux.layers if r.name.startswith(("aux", "AuxLogits"))]
    assert aux_rows and all(r.macs == 0 and r.depth is None for r in aux_rows)  # they did not run
    assert sum(r.params for r in aux_rows) == with_aux.params - without.params
    assert with_aux.params == sum(r.params for r in with_aux.layers)


@pytest.mark.parametrize(
    ("name", "width"),
    [("alexnet", 0.5), ("alexnet", 2.0), ("googlenet", 0.25), ("googlenet", 1.5), ("inception_v3", 0.5)],
)
def test_width_scales_every_conv(name: str, width: float) -> None:
    base = build(parse_query(f"preset={name}"), device="meta").module
    scaled = build(parse_query(f"preset={name}&width={width}"), device="meta").module
    base_convs = [m for m in base.modules() if isinstance(m, nn.Conv2d)]
    convs = [m for m in scaled.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == len(base_convs)
    for a, b in zip(base_convs, convs, strict=True):
        assert b.out_channels == a.out_channels * width
        assert b.in_channels == (3 if a.in_channels == 3 else a.in_channels * width)
        assert (b.kernel_size, b.stride, b.padding) == (a.kernel_size, a.stride, a.padding)
    assert profile(parse_query(f"preset={name}&width={width}")).macs != REFERENCE[name]["macs"]


def test_alexnet_dropout_and_width_change_the_classifier() -> None:
    model = build(parse_query("preset=alexnet&dropout=0.1&width=0.5"), device="meta").module
    dropouts = [m.p for m in model.modules() if isinstance(m, nn.Dropout)]
    assert dropouts == [0.1, 0.1]
    assert [m.out_features for m in model.classifier if isinstance(m, nn.Linear)] == [2048, 2048, 1000]
    assert model.classifier[1].in_features == 128 * 6 * 6


def test_transform_input_follows_the_input_channels() -> None:
    assert parse_query("preset=googlenet").derived_value("transform_input") is True
    one = parse_query("preset=googlenet&in_channels=1")
    assert one.derived_value("transform_input") is False
    assert build(one, device="meta").module.transform_input is False
    assert build(parse_query("preset=inception_v3&transform_input=off"), device="meta").module.transform_input is False


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("family=googlenet&transform_input=on&in_channels=1", "transform_input=on needs in_channels=3"),
        ("family=inception_v3&aux=off&resolution=74", "at least 75 px"),
        ("family=inception_v3&resolution=298", "aux=on needs 299 px"),
        ("family=alexnet&resolution=62", "at least 63 px"),
        ("family=googlenet&width=0.3", "invalid value '0.3' for 'width'"),
        ("family=alexnet&dropout=1.5", "dropout=1.5 is out of range"),
        ("family=inception_v3&aux=maybe", "invalid value 'maybe' for 'aux'"),
    ],
)
def test_invalid_knobs(query: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_query(query)


@pytest.mark.parametrize(
    ("query", "side"), [("preset=alexnet", 63), ("preset=googlenet&aux=on", 15), ("preset=inception_v3&aux=off", 75)]
)
def test_smallest_input_runs(query: str, side: int) -> None:
    model = build(parse_query(f"{query}&resolution={side}&width=0.25"), device="meta").module.eval()
    assert model(torch.zeros(1, 3, side, side, device="meta")).shape == (1, 1000)


@pytest.mark.parametrize("query", ["preset=googlenet&aux=on&width=0.25", "preset=inception_v3&width=0.25"])
def test_grad_cam_targets_run_at_inference(query: str) -> None:
    from explorer.analysis.saliency import grad_cam_strip, target_layers

    built = build(parse_query(query), device="cpu")
    assert not any(t.name.startswith(("aux", "AuxLogits")) for t in target_layers(built))
    side = built.config.input_resolution
    assert len(grad_cam_strip(built, torch.randn(1, 3, side, side))) == 4
