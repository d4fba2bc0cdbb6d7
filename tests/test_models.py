"""Real instantiation goes through the memory guard first; seeded weights are the same on every device."""

import pytest
import torch

from explorer.config import parse_query
from explorer.families import build
from explorer.runtime.device import available_devices
from explorer.runtime.guard import TooLargeError
from explorer.runtime.models import build_seeded, instantiate


def test_instantiate_builds_on_the_device_in_eval_mode(device):
    built = instantiate(parse_query("preset=resnet20"), device)
    assert not built.module.training
    assert {t.device.type for t in [*built.module.parameters(), *built.module.buffers()]} == {device}
    assert built.module(torch.zeros(1, 3, 32, 32, device=device)).shape == (1, 10)


QUERIES = ["preset=resnet20", "family=plain&depth=8&deform=on&modulated=on", "family=mobilenet_v2&alpha=0.35"]


@pytest.mark.parametrize("query", QUERIES)
def test_a_seeded_build_has_the_same_weights_on_every_available_device(query):
    config = parse_query(query)
    reference = build_seeded(config, seed=7, device="cpu").module.state_dict()
    for device in available_devices():
        state = build_seeded(config, seed=7, device=device).module.state_dict()
        assert state.keys() == reference.keys()
        for key, value in state.items():
            assert value.device.type == device, key
            assert torch.equal(value.cpu(), reference[key]), f"{key} differs on {device}"
        seeded = instantiate(config, device, seed=7).module.state_dict()
        assert all(torch.equal(seeded[k].cpu(), reference[k]) for k in reference)
        with torch.random.fork_rng(devices=[]):  # the family builder itself draws on the CPU too
            torch.manual_seed(7)
            direct = build(config, device=device).module.state_dict()
        assert all(torch.equal(direct[k].cpu(), reference[k]) for k in reference)
    other = build_seeded(config, seed=8).module.state_dict()
    assert any(not torch.equal(other[k], reference[k]) for k in reference if reference[k].is_floating_point())


def test_a_seeded_build_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    build_seeded(parse_query("preset=resnet20"), seed=0)
    assert torch.equal(torch.rand(4), expected)


def test_instantiate_refuses_before_allocating(monkeypatch):
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "50")
    with pytest.raises(TooLargeError, match=r"preset=vgg16 needs about 0\.\d GB for a forward pass"):
        instantiate(parse_query("preset=vgg16"), "cpu")
