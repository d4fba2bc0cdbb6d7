"""explorer.measure.counting: FlopCounterMode's counts, per module, unaffected by other threads."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from explorer.config import parse_query
from explorer.families import build
from explorer.measure.counting import OUTSIDE, counting
from explorer.measure.profile import profile

pytestmark = pytest.mark.usefixtures("single_thread")


def test_counts_by_innermost_module_by_hand() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))
    x = torch.zeros(2, 3, 4, 4, device="meta")
    with counting(model.to("meta")) as counter, torch.no_grad():
        model(x)
    conv = 2 * 8 * 4 * 4 * 3 * 3 * 3  # batch x C_out x H x W x C_in x k x k
    linear = 2 * 128 * 5
    assert dict(counter.own) == {"0": 2 * conv, "3": 2 * linear}  # FLOPs: 2 per multiply-add
    assert counter.total == 2 * (conv + linear)
    assert OUTSIDE not in counter.own


@pytest.mark.parametrize("query", ["preset=resnet50", "preset=efficientnet_b0", "preset=resnet50&deform=4"])
def test_total_and_per_module_counts_equal_flop_counter_mode(query: str) -> None:
    built = build(parse_query(query), device="meta")
    model = built.module.eval()
    x = torch.zeros(1, 3, 224, 224, device="meta")
    with torch.no_grad(), FlopCounterMode(display=False) as reference:
        model(x)
    with torch.no_grad(), counting(model) as counter:
        model(x)
    assert counter.total == reference.get_total_flops()
    root = type(model).__name__
    counts = reference.get_flop_counts().items()
    inclusive = {k[len(root) + 1 :]: sum(v.values()) for k, v in counts if k.startswith(root + ".")}
    modules = dict(model.named_modules())
    for name, total in inclusive.items():
        mine = sum(n for key, n in counter.own.items() if key == name or key.startswith(name + "."))
        assert mine == total, name
        assert name in modules


def test_profiles_in_threads_equal_profiles_alone() -> None:
    """FlopCounterMode's global module tracking mixed concurrent profiles' per-layer MACs."""
    queries = ["preset=resnet50", "preset=resnet101", "preset=resnet34", "preset=resnet152"]
    alone = {q: profile(parse_query(q)) for q in queries}
    results: dict[str, list] = {q: [] for q in queries}
    barrier = threading.Barrier(len(queries))

    def work(query: str) -> None:
        barrier.wait()
        for _ in range(2):
            results[query].append(profile(parse_query(query)))

    threads = [threading.Thread(target=work, args=(q,)) for q in queries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for query in queries:
        assert len(results[query]) == 2
        assert all(r == alone[query] for r in results[query]), query
