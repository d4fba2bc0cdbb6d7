"""Training memory (explorer.measure.memory): autograd's saved tensors on the meta device against a real
forward (CPU: the saved storages themselves; CUDA: the allocator's peak), and what uses it (the guard,
the CLI's ``training_bytes``)."""

from __future__ import annotations

import json

import pytest
import torch

from explorer.cli import main
from explorer.config import parse_query
from explorer.measure.memory import OUTSIDE, measured_saved_bytes, training_memory, training_memory_or_smallest_batch
from explorer.runtime.models import build_seeded

REAL = [
    "family=plain&depth=20&width=8&resolution=32",
    "family=plain&depth=20&width=8&resolution=32&skip=on",
    "preset=resnet18&resolution=64",
    "preset=densenet121&resolution=64",
    "preset=mobilenet_v2&resolution=64",
    "preset=efficientnet_b0&resolution=64",
    "preset=efficientnet_lite0&resolution=64",
    "preset=googlenet&resolution=96",
]


@pytest.mark.parametrize("query", REAL)
def test_meta_count_matches_a_real_cpu_forward_at_batch_8(query: str, single_thread) -> None:
    config = parse_query(query)
    estimate = training_memory(config, 8)
    built = build_seeded(config, 0)
    built.module.eval()
    x = torch.randn(8, config.in_channels, config.input_resolution, config.input_resolution)
    real = measured_saved_bytes(built, x)
    assert real > 1_000_000
    assert abs(estimate.saved_bytes - real) <= 0.05 * real, (estimate.saved_bytes, real)
    assert not built.module.training  # measured in training mode, the eval mode put back


def test_rows_sum_to_the_total_and_grow_with_the_batch() -> None:
    config = parse_query("preset=resnet18&resolution=64")
    one, eight = training_memory(config, 1), training_memory(config, 8)
    assert sum(r.saved_bytes for r in eight.layers) == eight.saved_bytes
    assert sum(g["saved_bytes"] for g in eight.grouped("stage")) == eight.saved_bytes
    # Activations scale with the batch; batch norm's per-channel statistics do not.
    assert 7.5 < eight.saved_bytes / one.saved_bytes < 8.0
    names = {r.name for r in eight.layers}
    assert "conv1" in names and "layer1.0.bn1" in names
    assert all(r.name == OUTSIDE or r.type for r in eight.layers)


def test_a_conv_saves_its_input_once_even_when_two_layers_read_it() -> None:
    # plain, no BN: conv -> ReLU -> conv; the second conv's input is the ReLU's output, already saved.
    config = parse_query("family=plain&depth=4&width=4&bn=off&resolution=16&classes=10")
    memory = training_memory(config, 2)
    image = 2 * 3 * 16 * 16 * 4
    stem = next(r for r in memory.layers if r.saved_bytes and r.name != OUTSIDE)
    assert stem.saved_bytes == image  # the first conv saves the input image, nothing else (its weight is a parameter)


def test_dense_paths_save_more_than_residual_ones() -> None:
    dense = training_memory(parse_query("preset=densenet121"), 1).saved_bytes
    residual = training_memory(parse_query("preset=resnet50"), 1).saved_bytes
    assert dense > residual


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_meta_count_matches_cuda_peak_memory() -> None:
    config = parse_query("preset=resnet18&resolution=112")
    built = build_seeded(config, 0, device="cuda")
    built.module.train()
    x = torch.randn(8, 3, 112, 112, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    logits = built.module(x)
    loss = torch.nn.functional.cross_entropy(logits, torch.arange(8, device="cuda"))
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del loss, logits
    expected = training_memory(config, 8).saved_bytes
    assert abs(peak - expected) <= 0.10 * expected, (peak, expected)


def test_cli_profile_adds_training_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "preset=resnet18", "--json", "--batch", "4"]) == 0
    record = json.loads(capsys.readouterr().out)[0]
    assert record["training_bytes"] == training_memory(parse_query("preset=resnet18"), 4).saved_bytes
    assert record["memory"]["training_total_bytes"] == 4 * record["weight_bytes"] + record["training_bytes"]


#: One or more configs of every family that has batch norms, at sizes that keep the real op quick.
STAND_IN = [
    "preset=resnet50&resolution=96",
    "preset=resnet20",
    "preset=preact_resnet164",
    "preset=resnet50&deform=4&resolution=96",
    "preset=densenet121&resolution=64",
    "preset=mobilenet_v1&resolution=96",
    "preset=mobilenet_v2&resolution=96",
    "preset=mobilenet_v3_large&resolution=96",
    "preset=efficientnet_b0&resolution=96",
    "preset=vgg11_bn&resolution=64",
    "preset=googlenet&resolution=96",
    "preset=inception_v3&aux=off&resolution=160",
    "preset=hybrid_efficient",
    "family=plain&depth=12",
    "family=blocks",
]


@pytest.mark.parametrize("query", STAND_IN)
def test_the_batch_norm_stand_in_saves_what_the_real_op_saves(query: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in for meta batch norms (explorer.measure.memory._fast_meta_norms) changes the time,
    not one row: the same config counted with torch's own training-mode batch norm."""
    from contextlib import nullcontext

    import explorer.measure.memory as memory

    config = parse_query(query)
    fast = [memory.training_memory.__wrapped__(config, batch) for batch in (1, 2)]
    monkeypatch.setattr(memory, "_fast_meta_norms", lambda model: nullcontext())
    real = [memory.training_memory.__wrapped__(config, batch) for batch in (1, 2)]
    assert fast == real
    assert fast[1].saved_bytes > fast[0].saved_bytes > 0
    assert any(row.type.startswith("BatchNorm") and row.saved_bytes for row in fast[0].layers)


def test_the_stand_in_keeps_the_single_value_per_channel_error() -> None:
    # ResNet-18 at 32 px: layer4's batch norms see a 1x1 map, one value per channel at batch 1, and
    # torch's batch norm refuses to train; the count says so with torch's own message.
    with pytest.raises(ValueError, match=r"cannot train at batch 1: Expected more than 1 value per channel"):
        training_memory.__wrapped__(parse_query("preset=resnet18&resolution=32"), 1)
    at_two = training_memory.__wrapped__(parse_query("preset=resnet18&resolution=32"), 2)
    assert at_two.saved_bytes > 0
    # what the pages and the CLI show instead: the count at batch 2, saying why
    shown = training_memory_or_smallest_batch(parse_query("preset=resnet18&resolution=32"), 1)
    assert shown.batch == 2 and shown.saved_bytes == at_two.saved_bytes
    assert shown.note == (
        "counted at batch 2: at batch 1 a batch norm sees one value per channel (its input is 1×512×1×1), "
        "which cannot train"
    )
    assert shown.bytes_per_sample == at_two.saved_bytes / 2


@pytest.mark.parametrize("query", ["preset=mobilenet_v3_large&resolution=96", "preset=efficientnet_b0&resolution=96"])
def test_the_activation_stand_ins_replace_the_real_ops(query: str) -> None:
    """Meta activations run torch's Python reference code (half of a MobileNet's count): in the count,
    none of them runs; the rows are the real op's (test_the_batch_norm_stand_in_saves_what_the_real_op_saves)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    ran: set[str] = set()

    class Ops(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            ran.add(func._overloadpacket.__name__)
            return func(*args, **(kwargs or {}))

    config = parse_query(query)
    training_memory.__wrapped__(config, 1)  # the stand-ins learn what each real op saves, once per kind
    with Ops():
        counted = training_memory.__wrapped__(config, 1)
    assert counted.saved_bytes > 0 and "convolution" in ran
    real_ops = {"relu", "relu_", "hardswish", "hardswish_", "hardsigmoid", "silu", "silu_", "sigmoid", "hardtanh_"}
    assert not ran & real_ops
