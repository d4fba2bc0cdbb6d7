"""Measured cost: forward latency, throughput and peak memory of a config on a real device.

MACs count work; they do not predict time. A depthwise 3x3 conv does 1/C of a full conv's MACs but
reads as much memory per output and vectorises poorly, so MobileNets and EfficientNets run far
fewer MACs per second than ResNets. This module measures, so the two can be put side by side.

Timing method (:func:`measure`):

1. Estimate first: the meta-device profile goes through :func:`explorer.runtime.guard.check_fits` for the
   requested batch; a model that would not fit raises :class:`~explorer.runtime.guard.TooLargeError` before
   any weight is allocated.
2. Build the model on the device with random weights (time does not depend on their values), in
   ``eval()`` mode, under ``torch.inference_mode()`` (no autograd bookkeeping), input ``batch x C x R x R``
   of random floats (float32).
3. Warm-up: ``warmup`` untimed forward passes (first calls pick kernels, fill allocator caches and,
   on CUDA, initialise cuDNN).
4. ``repeats`` timed passes, each on its own. On the CPU, ``time.perf_counter()`` around one forward
   pass. On CUDA, a pair of CUDA events recorded on the stream around the pass and read after a
   synchronise (the GPU's own clock: kernels run asynchronously and a launch returns before the
   work is done, and events leave out the host's launch jitter). On MPS the device is synchronised
   before starting the clock and before stopping it.
5. Report the median (robust to a stray slow run from another process), the minimum and all runs;
   throughput = batch / median (images per second).
6. Peak memory, in one further untimed pass (so that measuring it cannot slow the timed runs): on
   CUDA ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (everything the caching
   allocator handed out, workspaces included); elsewhere the peak of live tensor bytes (weights,
   input and every tensor an operator returns, dropped when Python frees it), tracked by a
   ``TorchDispatchMode``. The latter cannot see scratch buffers a kernel allocates internally.

Times depend on the machine, its load and the thread count (``torch.get_num_threads()``, recorded in
the result); compare runs taken on the same device in the same session.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from explorer.config import parse_query
from explorer.errors import InputError
from explorer.knobs import ModelConfig
from explorer.measure.profile import Profile, profile
from explorer.runtime.device import synchronize
from explorer.runtime.guard import check_fits
from explorer.runtime.models import build_on

__all__ = [
    "DEFAULT_TIMED_PRESETS",
    "LiveTensorBytes",
    "Timing",
    "cost_per_mac_summary",
    "measure",
    "measure_many",
    "time_calls",
    "timeable_presets",
    "timing_jobs",
]


@dataclass(frozen=True)
class Timing:
    query: str
    device: str
    batch: int
    warmup: int
    repeats: int
    #: Seconds of each timed forward pass, in the order run.
    times_s: tuple[float, ...]
    params: int
    macs: int
    peak_memory_bytes: int | None
    #: How the peak was measured ("cuda allocator" or "live tensors").
    memory_method: str
    threads: int

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def min_s(self) -> float:
        return min(self.times_s)

    @property
    def throughput(self) -> float:
        """Images per second at this batch: batch / median time."""
        return self.batch / self.median_s

    @property
    def ns_per_mac(self) -> float:
        """Median time per multiply-add of the whole batch, in nanoseconds."""
        return self.median_s * 1e9 / (self.macs * self.batch)

    @property
    def gmacs_per_s(self) -> float:
        return self.macs * self.batch / self.median_s / 1e9

    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "device": self.device,
            "batch": self.batch,
            "warmup": self.warmup,
            "repeats": self.repeats,
            "times_s": list(self.times_s),
            "median_s": self.median_s,
            "throughput": self.throughput,
            "params": self.params,
            "macs": self.macs,
            "ns_per_mac": self.ns_per_mac,
            "peak_memory_bytes": self.peak_memory_bytes,
            "memory_method": self.memory_method,
            "threads": self.threads,
        }


def time_calls(
    fn: Callable[[], object], device: torch.device, warmup: int, repeats: int, clock: Callable[[], float] | None = None
) -> tuple[float, ...]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed one by one; return the
    seconds of the timed calls (CUDA events on CUDA unless a ``clock`` is given; otherwise the clock
    with the device synchronised before and after each call)."""
    if repeats < 1 or warmup < 0:
        raise InputError("repeats must be at least 1 and warmup at least 0")
    for _ in range(warmup):
        fn()
    if device.type == "cuda" and clock is None:
        return _time_with_cuda_events(fn, device, repeats)
    clock = clock or time.perf_counter
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = clock()
        fn()
        synchronize(device)
        times.append(clock() - start)
    return tuple(times)


def _time_with_cuda_events(fn: Callable[[], object], device: torch.device, repeats: int) -> tuple[float, ...]:
    times = []
    with torch.cuda.device(device):
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize(device)
            start.record()
            fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1000.0)  # milliseconds -> seconds
    return tuple(times)


class LiveTensorBytes(TorchDispatchMode):
    """Tracks the bytes of live tensor storages that operators return, and their peak.

    ``baseline`` is added to every reading (the weights and input that exist before the pass).
    A storage is counted once however many views of it are returned, and leaves the count when
    Python frees it (checked after every operator call).
    """

    def __init__(self, baseline: int = 0) -> None:
        super().__init__()
        from torch.multiprocessing.reductions import StorageWeakRef

        self._ref = StorageWeakRef
        self._live: dict[int, tuple[Any, int]] = {}
        self.current = baseline
        self.peak = baseline

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for key in [k for k, (ref, _) in self._live.items() if ref.expired()]:
            self.current -= self._live.pop(key)[1]
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor) and leaf.device.type != "meta":
                storage = leaf.untyped_storage()
                key = storage.data_ptr()
                if key and key not in self._live:
                    self._live[key] = (self._ref(storage), storage.nbytes())
                    self.current += storage.nbytes()
        self.peak = max(self.peak, self.current)
        return out


def _tensor_bytes(tensors: Sequence[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def measure(
    config: ModelConfig,
    device: torch.device | str = "cpu",
    batch: int = 1,
    warmup: int = 2,
    repeats: int = 5,
    result: Profile | None = None,
    memory: bool = True,
) -> Timing:
    """Measure ``config``'s forward pass (see the module docstring for the method).

    Raises TooLargeError (before allocating) if the guard's estimate exceeds the device budget,
    and ValueError for a batch below 1.
    """
    if batch < 1:
        raise InputError("batch must be at least 1")
    device = torch.device(device)
    result = result or profile(config)
    check_fits(result, device, batch=batch)
    model = build_on(config, device).module.eval()
    side = config.input_resolution
    x = torch.randn(batch, config.in_channels, side, side, device=device)
    with torch.inference_mode():
        times = time_calls(lambda: model(x), device, warmup, repeats)
        peak: int | None = None
        method = "not measured"
        if memory:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
                model(x)
                torch.cuda.synchronize(device)
                peak, method = int(torch.cuda.max_memory_allocated(device)), "cuda allocator"
            else:
                baseline = _tensor_bytes([*model.parameters(), *model.buffers(), x])
                with LiveTensorBytes(baseline) as tracker:
                    model(x)
                peak, method = tracker.peak, "live tensors"
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return Timing(
        query=result.query,
        device=device.type,
        batch=batch,
        warmup=warmup,
        repeats=repeats,
        times_s=times,
        params=result.params,
        macs=result.macs,
        peak_memory_bytes=peak,
        memory_method=method,
        threads=torch.get_num_threads(),
    )


def measure_many(
    queries: Sequence[str],
    device: torch.device | str = "cpu",
    batches: Sequence[int] = (1,),
    warmup: int = 2,
    repeats: int = 5,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[list[Timing], list[tuple[str, int, str]]]:
    """:func:`measure` every query at every batch. Returns the timings and, for each one that was
    refused by the guard or failed, ``(query, batch, reason)``. ``progress(done, total, label)`` is
    called before each measurement."""
    timings: list[Timing] = []
    skipped: list[tuple[str, int, str]] = []
    total = len(queries) * len(batches)
    done = 0
    for query in queries:
        config = parse_query(query)
        result = profile(config)
        for batch in batches:
            if progress is not None:
                progress(done, total, f"{result.query} at batch {batch}")
            try:
                timings.append(measure(config, device, batch, warmup, repeats, result=result))
            except (ValueError, RuntimeError) as error:  # TooLargeError is a ValueError; OOM a RuntimeError
                skipped.append((result.query, batch, str(error)))
            done += 1
    if progress is not None:
        progress(total, total, "done")
    return timings, skipped


# -- what the Scaling lab offers to time ------------------------------------------------------
#: The presets timed by default: MobileNets and EfficientNet-B0 beside ResNets of similar MACs.
DEFAULT_TIMED_PRESETS = (
    "mobilenet_v3_large",
    "mobilenet_v2",
    "mobilenet_v1",
    "efficientnet_b0",
    "resnet18",
    "resnet50",
)


def timeable_presets(max_macs: float, profiler: Callable[[ModelConfig], Profile] = profile) -> list[str]:
    """The ImageNet presets (1000 classes) of at most ``max_macs`` multiply-adds, in preset order."""
    from explorer.config import preset_config
    from explorer.families import PRESETS

    return [
        name
        for name in PRESETS
        if preset_config(name).classes == 1000 and profiler(preset_config(name)).macs <= max_macs
    ]


def timing_jobs(
    presets: Sequence[str], design: Profile, max_macs: float, batches: Sequence[int]
) -> list[tuple[str, int]]:
    """(query, batch) for every chosen preset and the current design (when it is within the
    limit and not one of them), at every batch."""
    queries = [f"preset={name}" for name in presets]
    if design.macs <= max_macs and design.query not in queries:
        queries.append(design.query)
    return [(q, b) for q in queries for b in batches]


def cost_per_mac_summary(timings: Sequence[Timing]) -> str:
    """One sentence: the slowest and the fastest run per MAC, and the slowest one's peak memory."""
    from explorer.formatting import human_bytes

    fastest = min(timings, key=lambda t: t.ns_per_mac)
    slowest = max(timings, key=lambda t: t.ns_per_mac)
    return (
        f"On {slowest.device} ({slowest.threads} threads): {slowest.query} at batch {slowest.batch} spends "
        f"{slowest.ns_per_mac:.2f} ns per MAC, {slowest.ns_per_mac / fastest.ns_per_mac:.1f}× "
        f"{fastest.query} at batch {fastest.batch} ({fastest.ns_per_mac:.2f} ns). Peak memory of "
        f"{slowest.query}: {human_bytes(slowest.peak_memory_bytes or 0)} ({slowest.memory_method})."
    )
