"""Measured cost: the timing method's structure (warm-up, synchronised repeats, median) and sane
results on a tiny model. No timing thresholds: times depend on the machine and its load."""

from __future__ import annotations

import itertools

import pytest
import torch

from explorer.analysis import latency
from explorer.analysis.latency import LiveTensorBytes, Timing, measure, measure_many, time_calls
from explorer.config import parse_query
from explorer.runtime.guard import TooLargeError

TINY = "family=mobilenet_v1&alpha=0.25&resolution=32"


def test_time_calls_warms_up_then_times_each_call_between_synchronisations(monkeypatch):
    events: list[str] = []
    ticks = itertools.count()
    monkeypatch.setattr(latency, "synchronize", lambda device: events.append("sync"))

    def fn():
        events.append("call")

    def clock():
        events.append("clock")
        return float(next(ticks))

    times = time_calls(fn, torch.device("cpu"), warmup=2, repeats=3, clock=clock)
    assert times == (1.0, 1.0, 1.0)
    assert events[:2] == ["call", "call"]  # warm-up: untimed, unsynchronised
    assert events[2:] == ["sync", "clock", "call", "sync", "clock"] * 3
    with pytest.raises(ValueError):
        time_calls(fn, torch.device("cpu"), warmup=0, repeats=0)


def test_timing_reports_the_median_and_derived_rates():
    t = Timing("q", "cpu", 4, 1, 5, (0.5, 0.1, 0.3, 0.2, 0.4), 10, 1_000_000, 123, "live tensors", 2)
    assert t.median_s == 0.3 and t.min_s == 0.1
    assert t.throughput == pytest.approx(4 / 0.3)
    assert t.ns_per_mac == pytest.approx(0.3e9 / 4e6)
    assert t.to_dict()["median_s"] == 0.3


def test_measure_a_tiny_model_on_every_device(device):
    config = parse_query(TINY)
    one = measure(config, device, batch=1, warmup=1, repeats=3)
    assert one.query == TINY and one.batch == 1 and len(one.times_s) == 3 and one.device == device
    assert all(t > 0 for t in one.times_s) and one.min_s <= one.median_s
    assert one.macs > 0 and one.params == 470_072
    assert one.memory_method == ("cuda allocator" if device == "cuda" else "live tensors")
    weights = one.params * 4
    assert one.peak_memory_bytes > weights  # weights + input + at least one activation
    four = measure(config, device, batch=4, warmup=1, repeats=3)
    assert four.peak_memory_bytes > one.peak_memory_bytes  # activations grow with the batch


def test_live_tensor_bytes_counts_storages_once_and_frees():
    with torch.inference_mode(), LiveTensorBytes(baseline=100) as tracker:
        a = torch.ones(1000)  # 4000 bytes
        b = a.view(10, 100)  # a view: no new storage
        c = a + 1  # 4000 more
        del c
        d = a * 2  # c was freed before this: peak stays 8000 above the baseline
    assert tracker.peak == 100 + 8000
    assert b.shape == (10, 100) and d.shape == (1000,)


def test_guard_refuses_before_allocating(monkeypatch):
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "1")
    built = []
    monkeypatch.setattr(latency, "build_on", lambda *a, **k: built.append(1))
    with pytest.raises(TooLargeError, match="budget"):
        measure(parse_query("preset=resnet50"), "cpu", batch=8)
    assert built == []
    timings, skipped = measure_many(["preset=resnet50"], "cpu", batches=(1,), warmup=0, repeats=1)
    assert timings == [] and skipped[0][0] == "preset=resnet50" and "budget" in skipped[0][2]


def test_measure_many_reports_progress():
    calls = []
    timings, skipped = measure_many(
        [TINY], "cpu", batches=(1, 2), warmup=0, repeats=1, progress=lambda *a: calls.append(a)
    )
    assert [t.batch for t in timings] == [1, 2] and skipped == []
    assert calls[0][:2] == (0, 2) and calls[-1] == (2, 2, "done")
    with pytest.raises(ValueError, match="batch"):
        measure(parse_query(TINY), "cpu", batch=0)


def test_what_the_scaling_lab_offers_to_time():
    from explorer.analysis.latency import cost_per_mac_summary, timeable_presets, timing_jobs
    from explorer.measure.profile import profile

    small = timeable_presets(0.35e9)
    assert "mobilenet_v2" in small and "mobilenet_v3_small" in small and "resnet18" not in small  # 1.8 G MACs
    assert all(profile(parse_query(f"preset={n}")).macs <= 0.35e9 for n in small)
    assert "resnet20" not in timeable_presets(1e12)  # 10 classes: not an ImageNet model
    design = profile(parse_query(TINY))
    assert timing_jobs(["mobilenet_v2"], design, 1e9, (1, 4)) == [
        ("preset=mobilenet_v2", 1),
        ("preset=mobilenet_v2", 4),
        (TINY, 1),
        (TINY, 4),
    ]
    assert timing_jobs([], design, 1.0, (1,)) == []  # the design itself is over the limit
    slow = Timing("a", "cpu", 1, 1, 1, (0.2,), 10, 1_000_000, 2_000_000, "live tensors", 2)
    fast = Timing("b", "cpu", 4, 1, 1, (0.1,), 10, 1_000_000, 1_000, "live tensors", 2)
    assert cost_per_mac_summary([slow, fast]) == (
        "On cpu (2 threads): a at batch 1 spends 200.00 ns per MAC, 8.0× b at batch 4 (25.00 ns). "
        "Peak memory of a: 2.0 MB (live tensors)."
    )
