"""Real instantiation goes through the memory guard first."""

import pytest
import torch

from explorer.config import parse_query
from explorer.guard import TooLargeError
from explorer.models import instantiate


def test_instantiate_builds_on_the_device_in_eval_mode():
    built = instantiate(parse_query("preset=resnet20"), "cpu")
    assert not built.module.training
    assert next(built.module.parameters()).device.type == "cpu"
    assert built.module(torch.zeros(1, 3, 32, 32)).shape == (1, 10)


def test_instantiate_refuses_before_allocating(monkeypatch):
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "50")
    with pytest.raises(TooLargeError, match=r"preset=vgg16 needs about 0\.\d GB for a forward pass"):
        instantiate(parse_query("preset=vgg16"), "cpu")
