"""explorer.measure.hooks.hooked: hooks come off and train/eval modes come back, whatever the body does."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from explorer.config import parse_query
from explorer.families import BuiltModel, build
from explorer.measure.hooks import hooked
from explorer.measure.profile import profile

pytestmark = pytest.mark.usefixtures("single_thread")

HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")


def small_model() -> BuiltModel:
    torch.manual_seed(0)
    return build(parse_query("preset=resnet20&deform=3"), device="cpu")


def hook_count(model: nn.Module) -> int:
    return sum(len(getattr(m, name)) for m in model.modules() for name in HOOK_DICTS)


def modes(model: nn.Module) -> dict[str, bool]:
    return {name: m.training for name, m in model.named_modules()}


def mixed_modes(model: nn.Module) -> dict[str, bool]:
    """Train mode with two submodules in eval: a state that model.train()/eval() alone can't restore."""
    model.train()
    model.layer2.eval()
    model.get_submodule("layer3.0.bn1").eval()
    return modes(model)


def test_hooks_fire_inside_and_are_removed_after() -> None:
    model = small_model().module
    before = mixed_modes(model)
    seen: list[str] = []
    grads: list[str] = []

    def forward_hook(name: str) -> Any:
        return lambda module, inputs, output: seen.append(name)

    def backward_hook(name: str) -> Any:
        return lambda module, grad_in, grad_out: grads.append(name)

    forward = {name: forward_hook(name) for name in ("conv1", "layer1.0", "layer3.2.conv2", "fc")}
    backward = {name: backward_hook(name) for name in ("layer1.0", "fc")}
    with hooked(model, forward=forward, full_backward=backward, training=False) as inside:
        assert inside is model
        assert not any(modes(model).values())  # everything in eval inside
        assert hook_count(model) >= len(forward) + len(backward)
        model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert seen == ["conv1", "layer1.0", "layer3.2.conv2", "fc"]
    assert grads == ["fc", "layer1.0"]
    assert hook_count(model) == 0
    assert modes(model) == before
    # Nothing fires any more.
    model(torch.randn(1, 3, 32, 32))
    assert len(seen) == 4


def test_hooks_removed_and_modes_restored_after_an_exception() -> None:
    model = small_model().module
    before = mixed_modes(model)
    calls: list[int] = []
    with (
        pytest.raises(RuntimeError, match="boom"),
        hooked(
            model,
            forward={"layer1": lambda m, i, o: calls.append(1)},
            full_backward={"fc": lambda m, gi, go: None},
            training=True,
        ),
    ):
        assert all(modes(model).values())
        model(torch.randn(2, 3, 32, 32))
        raise RuntimeError("boom")
    assert calls == [1]
    assert hook_count(model) == 0
    assert modes(model) == before


def test_a_bad_module_name_removes_the_hooks_already_attached() -> None:
    model = small_model().module
    before = mixed_modes(model)
    with (
        pytest.raises(KeyError, match=r"no\.such\.layer"),
        hooked(model, forward={"conv1": lambda m, i, o: None, "no.such.layer": lambda m, i, o: None}, training=False),
    ):
        pass  # never reached
    assert hook_count(model) == 0
    assert modes(model) == before


def test_training_none_leaves_modes_alone_inside() -> None:
    model = small_model().module
    before = mixed_modes(model)
    with hooked(model):
        assert modes(model) == before
    assert modes(model) == before


def test_nested_contexts_restore_in_order() -> None:
    model = small_model().module
    before = mixed_modes(model)
    with hooked(model, forward={"fc": lambda m, i, o: None}, training=False):
        with hooked(model, forward={"conv1": lambda m, i, o: None}, training=True):
            assert all(modes(model).values())
            assert hook_count(model) == 2
        assert not any(modes(model).values())
        assert hook_count(model) == 1
    assert modes(model) == before
    assert hook_count(model) == 0


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_profile_leaves_the_model_unchanged(device: str) -> None:
    torch.manual_seed(0)
    built = build(parse_query("preset=resnet20&deform=3"), device=device)
    model = built.module
    before = mixed_modes(model)
    state = {k: v.clone() for k, v in model.state_dict().items()} if device == "cpu" else None
    result = profile(built.config, built)
    # Offset convs (18 outputs, 3x3, with bias) of stage 3's six 3x3 convs; the first one reads the
    # 32 channels of stage 2, the other five read 64.
    assert result.params == 269_722 + 18 * 9 * (32 + 5 * 64) + 6 * 18
    assert hook_count(model) == 0
    assert modes(model) == before
    if state is not None:  # profile runs in eval mode: batch-norm running statistics untouched
        after = model.state_dict()
        assert all(torch.equal(state[k], after[k]) for k in state)
