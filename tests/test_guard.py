"""explorer.runtime.guard (refuse work that would not fit) and explorer.runtime.device (where models run)."""

from __future__ import annotations

import pytest
import torch

from explorer.config import parse_query
from explorer.measure.profile import Profile, profile
from explorer.runtime import guard
from explorer.runtime.device import DEVICE_CHOICES, available_devices, best_device, describe, free_memory_bytes
from explorer.runtime.guard import TooLargeError, budget_bytes, check_fits, estimate

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def resnet18() -> Profile:
    return profile(parse_query("preset=resnet18"))


def test_estimate_counts_weights_once_and_activations_per_image(resnet18: Profile) -> None:
    assert resnet18.weight_bytes == 4 * 11_689_512
    forward = estimate(resnet18)
    assert forward.total_bytes == resnet18.weight_bytes + resnet18.activation_bytes
    assert estimate(resnet18, batch=8).total_bytes == resnet18.weight_bytes + 8 * resnet18.activation_bytes


def test_training_counts_weight_copies_and_the_saved_tensors(resnet18: Profile) -> None:
    from explorer.measure.memory import training_memory

    for batch in (1, 4):
        need = estimate(resnet18, batch=batch, training=True)
        saved = training_memory(parse_query("preset=resnet18"), batch).saved_bytes
        assert need.saved_bytes == saved > batch * 20_000_000  # ResNet-18 saves ~22 MB per 224 px image
        assert need.total_bytes == 4 * resnet18.weight_bytes + saved


def test_a_caller_with_the_config_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch, resnet18: Profile) -> None:
    """Passing the config skips turning the profile's query back into one; the estimate is the same."""
    config = parse_query("preset=resnet18")
    expected = estimate(resnet18, batch=2, training=True)

    def no_parse(query: str) -> None:
        raise AssertionError(f"parsed {query} again")

    monkeypatch.setattr(guard, "parse_query", no_parse)
    assert estimate(resnet18, batch=2, training=True, config=config) == expected
    assert check_fits(resnet18, CPU, batch=2, training=True, config=config) == expected


def test_too_large_names_the_estimate_in_gb(monkeypatch: pytest.MonkeyPatch, resnet18: Profile) -> None:
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "1")
    assert budget_bytes(CPU) == 1_000_000
    need = resnet18.weight_bytes + 64 * resnet18.activation_bytes
    assert f"{need / 1e9:.1f}" == "1.4"
    with pytest.raises(TooLargeError) as info:
        check_fits(resnet18, CPU, batch=64)
    message = str(info.value)
    assert message.startswith("preset=resnet18 needs about 1.4 GB for a forward pass at batch 64")
    assert "0.0 GB budget on cpu" in message
    assert "saved for backward" not in message
    assert isinstance(info.value, ValueError)
    training = r"needs about 1\.6 GB for training at batch 64 .*saved for backward 1\.42 GB"
    with pytest.raises(TooLargeError, match=training):
        check_fits(resnet18, CPU, batch=64, training=True)


def test_fits_returns_the_estimate(monkeypatch: pytest.MonkeyPatch, resnet18: Profile) -> None:
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "1000")
    result = check_fits(resnet18, CPU, batch=4)
    assert result == estimate(resnet18, batch=4)
    assert result.total_bytes < 1e9


def test_training_can_tip_it_over(monkeypatch: pytest.MonkeyPatch, resnet18: Profile) -> None:
    forward = estimate(resnet18).total_bytes
    # A budget between the forward estimate and twice it: forward fits, training does not.
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", str(1.5 * forward / 1e6))
    check_fits(resnet18, CPU)
    with pytest.raises(TooLargeError, match="for training at batch 1"):
        check_fits(resnet18, CPU, training=True)


def test_default_budget_is_half_of_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXPLORER_MEMORY_BUDGET_MB", raising=False)
    assert free_memory_bytes(CPU) > 0
    # Free memory moves with everything else on the machine: pin it to check the rule exactly.
    monkeypatch.setattr(guard, "free_memory_bytes", lambda device: 8_000_000_001)
    assert budget_bytes(CPU) == 4_000_000_000
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "")  # empty means unset
    assert budget_bytes(CPU) == 4_000_000_000
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "2.5")
    assert budget_bytes(CPU) == 2_500_000


def test_best_device_auto() -> None:
    devices = available_devices()
    assert devices[-1] == "cpu"
    assert best_device("auto") == torch.device(devices[0])
    assert best_device() == best_device("auto")
    if not torch.cuda.is_available() and "mps" not in devices:
        assert best_device("auto") == CPU
    assert best_device("cpu") == CPU
    assert describe(CPU).startswith("CPU · ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_absent_cuda_names_the_available_devices() -> None:
    with pytest.raises(ValueError) as info:
        best_device("cuda")
    assert str(info.value) == "device 'cuda' is not available here; available: " + ", ".join(available_devices())
    assert "cpu" in str(info.value)


def test_unknown_device_name() -> None:
    with pytest.raises(ValueError, match="unknown device 'tpu'; allowed: auto, cuda, mps, cpu"):
        best_device("tpu")
    assert DEVICE_CHOICES == ("auto", "cuda", "mps", "cpu")


def test_fit_note_says_whether_a_forward_pass_fits(monkeypatch):
    from explorer.runtime.guard import fit_note

    result = profile(parse_query("preset=resnet18"))
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "10000")
    fits, sentence = fit_note(result, torch.device("cpu"))
    need_mb = (result.weight_bytes + result.activation_bytes) / 1e6
    assert fits and sentence == (
        f"A forward pass at batch 1 needs about {need_mb:,.0f} MB: fits the 10.0 GB budget on cpu."
    )
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "10")
    fits, sentence = fit_note(result, torch.device("cpu"), batch=4)
    assert not fits and "at batch 4" in sentence and "does NOT fit the 0.0 GB budget" in sentence
