"""Find alpha, beta, gamma the way EfficientNet did: a small grid under alpha·beta²·gamma² ≈ 2 at
phi = 1, each point trained briefly on shapes, compared with the single-dimension baselines.

The plan (:func:`plan`): every grid point whose alpha·beta²·gamma² lies within ``tolerance`` of 2,
plus alpha = beta = gamma = 1 (the base network) and three single-dimension baselines (depth only,
width only, resolution only) whose multiplier is chosen so that their *counted* MACs are nearest to
2 x the base's (the comparison the method rests on: at equal cost, is the compound point better?).
Each point is the base config scaled at phi = 1 by the Scaling lab's own rule
(:func:`explorer.analysis.scaling.rule_config`, which asks the family's ``scale_knobs``), so any
family scales, composed models included.

Training (:func:`run_task`, the one task function behind every executor): the one shapes trainer
(:func:`explorer.analysis.training.train_on_shapes`) for ``steps`` steps at the point's own input
side, seeds 0..K-1 (the same data and initialisation draws for every point), held-out top-1 accuracy
on another seed's images. A task sets torch's CPU threads to ``threads`` for its duration (1 under
the pool and Ray: one task per core, and a reduction order that does not depend on the executor),
so the same seeds give identical numbers under every executor.

Executors (:mod:`explorer.analysis.search` has three): in-process (tests, one at a time), a local
process pool (``spawn``: safe from a multi-threaded server, and CUDA works in the children), and
Ray (``ray`` is imported only when asked for). Results: one JSON line per finished point in
``DIR/results.jsonl`` (written as points finish), the search's arguments in ``DIR/search.json``; a
rerun with the same arguments skips the points already there. Each line keeps every seed's first
training losses, so a recorded search can be re-checked by re-running a few steps
(:func:`first_losses`) instead of the whole search.

Judging (:func:`verdict`, :func:`ranking`): two networks are told apart when their mean accuracies
differ by more than the :func:`margin`, half the 95 % confidence interval of the difference; a few
seeds rarely give one narrow enough, so :func:`settle` trains the networks the conclusions rest on
with more seeds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import math
import os
import queue
import signal
import statistics
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from explorer.errors import InputError
from explorer.compound import COEFFICIENT_RANGE, TARGET_FLOPS_RATIO, Rule, flops_ratio

__all__ = [
    "KINDS",
    "MAX_POINTS",
    "MAX_SEEDS",
    "BackgroundSearch",
    "Cancelled",
    "Comparison",
    "GridPoint",
    "InlineExecutor",
    "Outcome",
    "PointResult",
    "PoolExecutor",
    "Ranking",
    "RayExecutor",
    "SearchSpec",
    "TaskResult",
    "TaskSpec",
    "Verdict",
    "first_losses",
    "format_axis",
    "grid_rules",
    "load_results",
    "make_executor",
    "margin",
    "parse_axis",
    "plan",
    "ranking",
    "ray_available",
    "run_search",
    "run_task",
    "search_directory",
    "search_root",
    "settle",
    "settle_targets",
    "settled_networks",
    "settled_seeds",
    "t95",
    "unsettled",
    "verdict",
]

#: Point kinds: the base network, grid points, and the three single-dimension baselines.
KINDS = ("base", "grid", "depth", "width", "resolution")
#: The most grid points one search may plan (each is K trainings).
MAX_POINTS = 200
#: The most seeds a point may be trained with (:attr:`SearchSpec.seeds`, :func:`settle`).
MAX_SEEDS = 20
#: The most values one axis may take.
MAX_AXIS_VALUES = 41
RESULTS_FILE = "results.jsonl"
SPEC_FILE = "search.json"
#: Under Ray on a GPU, each task asks for this share of a GPU (tiny models leave a GPU mostly idle).
RAY_GPU_SHARE = 0.125


# -- the grid -----------------------------------------------------------------------------------
def parse_axis(text: str, name: str = "axis") -> tuple[float, ...]:
    """``start:stop:step`` (inclusive), a comma list or one number -> the values, each in
    :data:`explorer.compound.COEFFICIENT_RANGE`. Raises InputError (about setting ``name``) with the
    allowed forms."""
    low, high = COEFFICIENT_RANGE
    allowed = f"START:STOP:STEP (e.g. 1.0:1.4:0.1), a comma list or one number, each from {low:g} to {high:g}"
    bad = InputError(f"'{text}' is not a grid; allowed: {allowed}", field=name)
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            count = math.floor((stop - start) / step + 1e-9) + 1 if step > 0 and start <= stop else 0
        else:
            values = tuple(sorted({round(float(part), 6) for part in text.split(",")}))
    except ValueError:
        raise bad from None
    if ":" in text:
        if count < 1:
            raise bad
        if count > MAX_AXIS_VALUES:
            raise InputError(f"'{text}' has {count} values; at most {MAX_AXIS_VALUES}", field=name)
        values = tuple(round(start + i * step, 6) for i in range(count))
    if not values or any(not (math.isfinite(v) and low <= v <= high) for v in values):
        raise bad
    return values


def format_axis(values: Sequence[float]) -> str:
    """The shortest text :func:`parse_axis` reads back as ``values``."""
    return ",".join(f"{v:g}" for v in values)


@dataclass(frozen=True, kw_only=True)
class SearchSpec:
    """Everything a search depends on; equal specs give equal results (the directory's identity)."""

    query: str
    alphas: tuple[float, ...] = parse_axis("1.0:1.4:0.1")
    betas: tuple[float, ...] = parse_axis("1.0:1.4:0.1")
    gammas: tuple[float, ...] = parse_axis("1.0:1.4:0.1")
    tolerance: float = 0.1
    steps: int = 60
    seeds: int = 2
    batch: int = 32
    lr: float = 1e-3
    #: The data (as :class:`explorer.analysis.training.TrainSettings`): rotated shapes or upright,
    #: the shape's radius range (None: the shapes version's), held-out images per accuracy.
    rotate: bool = True
    scale: tuple[float, float] | None = None
    held_out: int = 128
    #: Learning-rate schedule (:data:`explorer.analysis.training.SCHEDULES`): cosine decay to zero
    #: ends every run with small steps, so the seeds' accuracies scatter less.
    schedule: str = "constant"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise InputError(f"{self.tolerance}; allowed: a number above 0", field="tolerance")
        if self.steps < 1:
            raise InputError(f"{self.steps}; allowed: 1 or more", field="steps")
        if not 1 <= self.seeds <= MAX_SEEDS:
            raise InputError(f"{self.seeds}; allowed: 1 to {MAX_SEEDS}", field="seeds")
        if self.batch < 2:
            raise InputError(f"{self.batch}; allowed: 2 or more", field="batch")

    def to_dict(self) -> dict[str, Any]:
        """Fields at their defaults that came after the first version (the data's) are left out, so a
        search set up before they existed keeps its key."""
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
        for name, default in (("rotate", True), ("scale", None), ("held_out", 128), ("schedule", "constant")):
            if data[name] == default:
                del data[name]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names})

    def task(self, query: str, seed: int) -> TaskSpec:
        """The training of network ``query`` with ``seed`` in this search (on the CPU, one thread)."""
        return TaskSpec(
            query,
            seed,
            self.steps,
            self.batch,
            self.lr,
            rotate=self.rotate,
            scale=self.scale,
            held_out=self.held_out,
            schedule=self.schedule,
        )

    @property
    def key(self) -> str:
        """A short stable name for this search (its directory under a page's search root)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def grid_rules(spec: SearchSpec) -> list[Rule]:
    """The grid's (alpha, beta, gamma) whose alpha·beta²·gamma² is within the tolerance of 2.

    Raises ValueError when none is (naming the nearest) or when there are more than
    :data:`MAX_POINTS`."""
    every = [Rule(a, b, g) for a in spec.alphas for b in spec.betas for g in spec.gammas]
    kept = [r for r in every if abs(r.flops_ratio - TARGET_FLOPS_RATIO) <= spec.tolerance + 1e-9]
    kept = [r for r in kept if (r.alpha, r.beta, r.gamma) != (1.0, 1.0, 1.0)]
    if not kept:
        nearest = min(every, key=lambda r: abs(r.flops_ratio - TARGET_FLOPS_RATIO))
        raise InputError(
            f"no grid point has alpha·beta²·gamma² within {spec.tolerance:g} of 2 (nearest: "
            f"{nearest.flops_ratio:.3f} at {nearest.alpha:g}/{nearest.beta:g}/{nearest.gamma:g}); "
            "widen the grid or the tolerance"
        )
    if len(kept) > MAX_POINTS:
        raise InputError(f"{len(kept)} grid points; at most {MAX_POINTS}: narrow the grid or the tolerance")
    return kept


@dataclass(frozen=True)
class GridPoint:
    """One network of the search: which rule made it and what it costs (counted, batch 1)."""

    kind: str
    alpha: float
    beta: float
    gamma: float
    query: str
    params: int
    macs: int
    resolution: int
    #: The multipliers the family's knobs actually carry (depth, width, resolution).
    achieved: tuple[float, float, float]
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.alpha:g}:{self.beta:g}:{self.gamma:g}"

    @property
    def ratio(self) -> float:
        """alpha·beta²·gamma² as requested."""
        return flops_ratio(self.alpha, self.beta, self.gamma)

    @property
    def compound(self) -> bool:
        """A grid point that scales at least two dimensions (a single-dimension one is not compound)."""
        return self.kind == "grid" and sum(v > 1.0 for v in (self.alpha, self.beta, self.gamma)) >= 2

    @property
    def label(self) -> str:
        names = {"base": "base", "depth": "depth only", "width": "width only", "resolution": "resolution only"}
        coefficients = f"α={self.alpha:g} β={self.beta:g} γ={self.gamma:g}"
        return coefficients if self.kind == "grid" else f"{names[self.kind]} ({coefficients})"


def _point(kind: str, base: Any, rule: Rule, profiler: Callable[[Any], Any]) -> GridPoint:
    from explorer.analysis.scaling import rule_config

    scaled = rule_config(base, rule, 1.0)
    result = profiler(scaled.config)
    a = scaled.achieved
    return GridPoint(
        kind, rule.alpha, rule.beta, rule.gamma, scaled.config.query, result.params, result.macs,
        result.resolution, (round(a.depth, 6), round(a.width, 6), round(a.resolution, 6)), tuple(scaled.notes),
    )  # fmt: skip


#: Candidate multipliers for the single-dimension baselines (MACs matched to 2 x the base's).
_SINGLE_CANDIDATES = tuple(round(1.0 + 0.02 * i, 6) for i in range(1, 51))


def _single(kind: str, base: Any, target: float, profiler: Callable[[Any], Any]) -> GridPoint | None:
    """The one-dimension network whose counted MACs are nearest ``target`` (None: the family cannot
    scale that dimension)."""
    from explorer.analysis.scaling import rule_config

    best: GridPoint | None = None
    seen: set[str] = set()
    for m in _SINGLE_CANDIDATES:
        rule = Rule(m if kind == "depth" else 1.0, m if kind == "width" else 1.0, m if kind == "resolution" else 1.0)
        scaled = rule_config(base, rule, 1.0)
        if kind in scaled.unapplied or scaled.config.query in seen:
            continue
        seen.add(scaled.config.query)
        point = _point(kind, base, rule, profiler)
        if best is None or abs(math.log(point.macs / target)) < abs(math.log(best.macs / target)):
            best = point
    return best


def plan(spec: SearchSpec, profiler: Callable[[Any], Any] | None = None) -> list[GridPoint]:
    """Base, grid points (in grid order) and the single-dimension baselines of ``spec``."""
    from explorer.config import parse_query
    from explorer.measure.profile import profile

    profiler = profiler or profile
    rules = grid_rules(spec)
    base = parse_query(spec.query)
    start = _point("base", base, Rule(1.0, 1.0, 1.0), profiler)
    points = [start, *(_point("grid", base, r, profiler) for r in rules)]
    target = start.macs * TARGET_FLOPS_RATIO
    for kind in ("depth", "width", "resolution"):
        single = _single(kind, base, target, profiler)
        if single is not None:
            points.append(single)
    return points


# -- the task ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskSpec:
    """One training: plain values only, so it pickles for a process pool and for Ray."""

    query: str
    seed: int
    steps: int
    batch: int
    lr: float
    device: str = "cpu"
    #: torch CPU threads during the task (0: leave as they are).
    threads: int = 1
    rotate: bool = True
    scale: tuple[float, float] | None = None
    held_out: int = 128
    schedule: str = "constant"


#: Training losses kept from the start of every run: a recorded search is re-checked by re-running
#: them (see :func:`first_losses`).
FIRST_STEPS = 3


@dataclass(frozen=True)
class TaskResult:
    accuracy: float | None
    seconds: float
    final_loss: float | None
    steps: int
    device: str
    error: str | None = None
    #: The losses of the first :data:`FIRST_STEPS` steps.
    first_losses: tuple[float, ...] = ()


def _train(task: TaskSpec, progress: Callable[[Any], None] | None = None) -> Any:
    """``task``'s training (a :class:`explorer.analysis.training.ShapesRun`), on torch's current threads;
    ``progress`` is called with every step's record."""
    from explorer.analysis.training import TrainSpec, shapes_settings, shapes_source, train_on_shapes
    from explorer.config import parse_query

    config = parse_query(task.query)
    settings = shapes_settings(
        steps=task.steps,
        seed=task.seed,
        batch=task.batch,
        lr=task.lr,
        rotate=task.rotate,
        scale=task.scale,
        schedule=task.schedule,
    )
    spec = TrainSpec(
        model=shapes_source(config, config.input_resolution),
        settings=settings,
        device=task.device,
        callbacks=(progress,) if progress is not None else (),
    )
    return train_on_shapes(spec, held_out=task.held_out)


@contextlib.contextmanager
def _threads(count: int) -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count:
            torch.set_num_threads(previous)


def run_task(task: TaskSpec) -> TaskResult:
    """Train ``task.query`` on shapes with ``task.seed`` and measure held-out accuracy.

    The one task function of every executor. Errors (a diverged run, a network too large for the
    device) come back as ``TaskResult.error`` rather than as exceptions, so one bad point does not end
    the search."""
    with _threads(task.threads):
        try:
            run = _train(task)
        except (ValueError, RuntimeError) as exc:
            return TaskResult(None, 0.0, None, 0, task.device, f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    return TaskResult(
        run.model.accuracy, run.seconds, run.losses[-1], run.steps, task.device, first_losses=run.losses[:FIRST_STEPS]
    )


class _Enough(Exception):
    pass


def first_losses(task: TaskSpec, steps: int = FIRST_STEPS) -> list[float]:
    """The training losses of ``task``'s first ``steps`` steps, exactly as the whole task takes them
    (same schedule over ``task.steps``, same data, same initial weights), without running the rest:
    what a recorded search is re-checked by."""
    losses: list[float] = []

    def progress(record: Any) -> None:
        losses.append(record.loss)
        if len(losses) >= steps:
            raise _Enough

    with _threads(task.threads), contextlib.suppress(_Enough):
        _train(task, progress)
    return losses


def _indexed(item: tuple[int, TaskSpec]) -> tuple[int, TaskResult]:
    index, task = item
    return index, run_task(task)


# -- executors ----------------------------------------------------------------------------------
class Cancelled(Exception):
    """The search was stopped (its stop event was set); what was finished is kept."""


class Executor(Protocol):
    #: Where tasks run, for people ("pool of 2 workers on cpu").
    description: str

    def run(self, tasks: Sequence[TaskSpec], stop: threading.Event | None = None) -> Iterator[tuple[int, TaskResult]]:
        """Yield (index into ``tasks``, result) as tasks finish, in any order; raise Cancelled when
        ``stop`` is set (pending work is dropped)."""
        ...

    def close(self) -> None: ...


def _device_for(device: str, index: int) -> str:
    """Round-robin over the visible GPUs for ``cuda``; anything else as it is."""
    if device != "cuda":
        return device
    import torch

    count = max(1, torch.cuda.device_count())
    return f"cuda:{index % count}"


class InlineExecutor:
    """One task after another in this process (tests, and a machine without processes to spare)."""

    def __init__(self, device: str = "cpu", threads: int = 1) -> None:
        self.device, self.threads = device, threads
        self.description = f"in-process on {device}"

    def run(self, tasks: Sequence[TaskSpec], stop: threading.Event | None = None) -> Iterator[tuple[int, TaskResult]]:
        for index, task in enumerate(tasks):
            if stop is not None and stop.is_set():
                raise Cancelled
            yield index, run_task(dataclasses.replace(task, device=self.device, threads=self.threads))

    def close(self) -> None:
        pass


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group: the parent decides (terminates the pool), so a worker
    # must not die half-way through writing its result into the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class PoolExecutor:
    """A local process pool (``spawn``), one single-threaded task per worker; on ``cuda`` every task
    is placed on a GPU (round-robin over the visible ones)."""

    def __init__(self, workers: int | None = None, device: str = "cpu") -> None:
        import multiprocessing

        self.workers = workers or os.cpu_count() or 1
        if self.workers < 1:
            raise InputError(f"{self.workers}; allowed: 1 or more", field="workers")
        self.device = device
        self._pool = multiprocessing.get_context("spawn").Pool(self.workers, initializer=_ignore_sigint)
        self.description = f"process pool of {self.workers} worker{'s' * (self.workers > 1)} on {device}"

    def run(self, tasks: Sequence[TaskSpec], stop: threading.Event | None = None) -> Iterator[tuple[int, TaskResult]]:
        done: queue.Queue[tuple[int, TaskResult] | BaseException] = queue.Queue()
        for index, task in enumerate(tasks):
            placed = dataclasses.replace(task, device=_device_for(self.device, index), threads=1)
            self._pool.apply_async(_indexed, ((index, placed),), callback=done.put, error_callback=done.put)
        for _ in tasks:
            while True:
                if stop is not None and stop.is_set():
                    raise Cancelled
                try:
                    item = done.get(timeout=0.1)
                    break
                except queue.Empty:
                    continue
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop at once: running trainings are killed, pending ones dropped."""
        self._pool.terminate()
        self._pool.join()


def ray_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(
            "Ray is not installed here (pip install ray, or python3 run.py test, which installs the dev "
            "requirements); without --ray the search runs on a local process pool"
        ) from None
    return ray


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on an address nothing listens at (Ray's client retries for about a minute)."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise InputError(f"'{address}'; allowed: auto (a local Ray instance) or ray://host:port", field="ray")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise InputError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _quiet_ray() -> Iterator[None]:
    """Ray's client logs its connection settings at INFO on stderr: keep the one-line error contract."""
    import logging

    loggers = [logging.getLogger(name) for name in ("ray", "ray.util.client", "ray.client_builder")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class RayExecutor:
    """Ray tasks: ``address="auto"`` starts a local Ray instance (shut down on close), ``ray://host:port``
    joins a cluster (the ``explorer`` package is shipped with the job), ``None`` uses the Ray this
    process has already initialised (and leaves it running)."""

    def __init__(self, address: str | None, workers: int | None = None, device: str = "cpu") -> None:
        ray = _import_ray()
        self._ray, self.device, self._owned = ray, device, False
        package = Path(__file__).resolve().parents[1]
        if address is None:
            if not ray.is_initialized():
                raise InputError("Ray is not initialised in this process; pass an address ('auto' or ray://host:port)")
        elif address == "auto":
            ray.init(
                num_cpus=workers or os.cpu_count() or 1,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env={"env_vars": {"PYTHONPATH": str(package.parent)}},
            )
            self._owned = True
        elif address.startswith("ray://"):
            _reachable(address)
            try:
                with warnings.catch_warnings(), _quiet_ray():
                    warnings.simplefilter("ignore")
                    ray.init(address=address, runtime_env={"py_modules": [str(package)]})
            except Exception as exc:  # Ray raises ConnectionError, grpc errors, or a bare Exception
                raise InputError(f"cannot reach the Ray cluster at {address}: {' '.join(str(exc).split())}") from None
            self._owned = True
        else:
            raise InputError(f"'{address}'; allowed: auto (a local Ray instance) or ray://host:port", field="ray")
        options: dict[str, Any] = {"num_cpus": 1, "max_retries": 0}
        if device.startswith("cuda"):
            options["num_gpus"] = RAY_GPU_SHARE
        self._remote = ray.remote(**options)(run_task)
        resources = ray.cluster_resources()
        self.description = f"Ray ({address or 'this process'}: {resources.get('CPU', 0):g} CPUs) on {device}"

    def run(self, tasks: Sequence[TaskSpec], stop: threading.Event | None = None) -> Iterator[tuple[int, TaskResult]]:
        ray = self._ray
        device = "cuda" if self.device.startswith("cuda") else self.device  # Ray picks the GPU
        refs = {self._remote.remote(dataclasses.replace(t, device=device, threads=1)): i for i, t in enumerate(tasks)}
        pending = list(refs)
        try:
            while pending:
                if stop is not None and stop.is_set():
                    raise Cancelled
                ready, pending = ray.wait(pending, num_returns=1, timeout=0.1)
                for ref in ready:
                    yield refs[ref], ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()


def make_executor(workers: int | None = None, ray: str | None = None, device: str = "cpu") -> Executor:
    """A Ray executor when ``ray`` names an address, else a local pool of ``workers`` (default: one
    per core)."""
    if ray is not None:
        return RayExecutor(ray, workers, device)
    return PoolExecutor(workers, device)


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PointResult:
    """A trained point: per-seed accuracy and training time, as one line of ``results.jsonl``."""

    point: GridPoint
    accuracies: tuple[float, ...]
    seconds: tuple[float, ...]
    final_losses: tuple[float, ...]
    device: str
    errors: tuple[str, ...] = ()
    #: Per seed, the losses of the first :data:`FIRST_STEPS` steps (empty in results from before).
    first_losses: tuple[tuple[float, ...], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.accuracies)

    @property
    def accuracy(self) -> float:
        return statistics.fmean(self.accuracies) if self.accuracies else math.nan

    @property
    def spread(self) -> float:
        """Sample standard deviation over seeds (0 with one seed): how far one more training may land."""
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0

    @property
    def standard_error(self) -> float:
        """How uncertain the *mean* over the seeds is: the spread / sqrt(seeds); more seeds shrink it."""
        return self.spread / math.sqrt(len(self.accuracies)) if self.accuracies else math.nan

    @property
    def train_seconds(self) -> float:
        return statistics.fmean(self.seconds) if self.seconds else math.nan

    def to_json(self) -> dict[str, Any]:
        point = dataclasses.asdict(self.point)
        return {
            "key": self.point.key,
            **point,
            "ratio": round(self.point.ratio, 6),
            "accuracy": self.accuracy if self.ok else None,
            "spread": self.spread if self.ok else None,
            "accuracies": list(self.accuracies),
            "train_seconds": list(self.seconds),
            "final_losses": list(self.final_losses),
            "device": self.device,
            "errors": list(self.errors),
            "first_losses": [list(losses) for losses in self.first_losses],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PointResult:
        names = {f.name for f in dataclasses.fields(GridPoint)}
        fields = {k: v for k, v in data.items() if k in names}
        fields["achieved"] = tuple(fields["achieved"])
        fields["notes"] = tuple(fields.get("notes", ()))
        return cls(
            GridPoint(**fields),
            tuple(data["accuracies"]),
            tuple(data["train_seconds"]),
            tuple(data["final_losses"]),
            data["device"],
            tuple(data.get("errors", ())),
            tuple(tuple(losses) for losses in data.get("first_losses", ())),
        )


def _combine(point: GridPoint, results: Sequence[TaskResult]) -> PointResult:
    errors = tuple(r.error for r in results if r.error)
    good = [r for r in results if r.error is None and r.accuracy is not None]
    return PointResult(
        point,
        tuple(r.accuracy for r in good if r.accuracy is not None),
        tuple(round(r.seconds, 4) for r in good),
        tuple(r.final_loss for r in good if r.final_loss is not None),
        results[0].device if results else "",
        errors,
        tuple(r.first_losses for r in good),
    )


def load_results(directory: str | os.PathLike[str]) -> tuple[SearchSpec | None, list[PointResult]]:
    """The spec and finished points in ``directory`` (a line cut short by a kill is skipped)."""
    directory = Path(directory)
    spec_path = directory / SPEC_FILE
    spec = SearchSpec.from_dict(json.loads(spec_path.read_text())) if spec_path.exists() else None
    results: dict[str, PointResult] = {}
    path = directory / RESULTS_FILE
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                result = PointResult.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue
            results[result.point.key] = result
    return spec, list(results.values())


@dataclass
class SearchRun:
    """What :func:`run_search` did: every point's result (earlier runs' included), how many were
    trained now, the wall time of this run and whether it was stopped before the end."""

    spec: SearchSpec
    points: list[GridPoint]
    results: list[PointResult] = field(default_factory=list)
    trained: int = 0
    skipped: int = 0
    #: Networks given more seeds by :func:`settle`.
    settled: int = 0
    wall_seconds: float = 0.0
    cancelled: bool = False
    executor: str = ""


def search_root() -> Path:
    """Where the Scaling lab keeps searches: ``$EXPLORER_SEARCH_DIR``, else a folder in the temp dir."""
    import tempfile

    return Path(os.environ.get("EXPLORER_SEARCH_DIR") or Path(tempfile.gettempdir()) / "explorer-searches")


def search_directory(key: str) -> Path:
    """The directory of the search named ``key`` (a :attr:`SearchSpec.key`; anything else is refused,
    so a link cannot point the page at another folder)."""
    if len(key) != 12 or any(c not in "0123456789abcdef" for c in key):
        raise InputError(f"search '{key}' is not a search name (12 hex digits)")
    return search_root() / key


def _prepare(spec: SearchSpec, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SPEC_FILE
    if path.exists():
        try:
            existing = SearchSpec.from_dict(json.loads(path.read_text()))
        except (ValueError, TypeError):
            existing = None
        if existing != spec:
            raise InputError(f"{directory} holds a search with other arguments; choose another directory or remove it")
    else:
        path.write_text(json.dumps(spec.to_dict(), indent=1) + "\n")


def _append(out: Any, result: PointResult) -> None:
    out.write(json.dumps(result.to_json()) + "\n")
    out.flush()


def _by_network(
    directory: Path,
    tasks: Sequence[TaskSpec],
    executor: Executor,
    stop: threading.Event | None,
    finished: Callable[[Any, str, list[TaskResult]], None],
) -> tuple[bool, float]:
    """Run ``tasks`` and call ``finished(results file, query, results)`` as soon as every seed of a
    network is in (its results in seed order), with ``results.jsonl`` open for appending.

    Returns (cancelled, wall seconds): a set ``stop`` ends it with what finished kept; a
    KeyboardInterrupt is let through after the executor is closed."""
    slots: dict[str, dict[int, TaskResult | None]] = {}
    for task in tasks:
        slots.setdefault(task.query, {})[task.seed] = None
    start = time.perf_counter()
    try:
        with (directory / RESULTS_FILE).open("a") as out:
            for index, result in executor.run(tasks, stop):
                task = tasks[index]
                mine = slots[task.query]
                mine[task.seed] = result
                if all(r is not None for r in mine.values()):
                    finished(out, task.query, [r for _, r in sorted(mine.items()) if r is not None])
    except Cancelled:
        return True, time.perf_counter() - start
    except KeyboardInterrupt:
        executor.close()
        raise
    return False, time.perf_counter() - start


def run_search(
    spec: SearchSpec,
    directory: str | os.PathLike[str],
    executor: Executor,
    *,
    points: list[GridPoint] | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[PointResult, int, int], None] | None = None,
) -> SearchRun:
    """Train every planned point of ``spec`` not already in ``directory``, appending one line to
    ``results.jsonl`` per finished point (all its seeds), as it finishes.

    Points of the same network (rounding can map two rules to one config) are trained once. Stops
    with ``cancelled=True`` when ``stop`` is set; a KeyboardInterrupt is let through after the
    executor is closed. The executor is not closed otherwise (the caller owns it)."""
    directory = Path(directory)
    points = points if points is not None else plan(spec)
    _prepare(spec, directory)
    _, earlier = load_results(directory)
    done = {r.point.key: r for r in earlier if r.ok}
    todo = [p for p in points if p.key not in done]
    run = SearchRun(spec, points, [done[p.key] for p in points if p.key in done], skipped=len(points) - len(todo))
    run.executor = executor.description
    queries = list(dict.fromkeys(p.query for p in todo))
    tasks = [spec.task(q, seed) for q in queries for seed in range(spec.seeds)]
    waiting = {q: [p for p in todo if p.query == q] for q in queries}

    def finished(out: Any, query: str, results: list[TaskResult]) -> None:
        for point in waiting.pop(query):
            result = _combine(point, results)
            _append(out, result)
            run.results.append(result)
            run.trained += 1
            if progress:
                progress(result, len(run.results), len(points))

    run.cancelled, run.wall_seconds = _by_network(directory, tasks, executor, stop, finished)
    run.results = _in_plan_order(run.results, points)
    return run


def _in_plan_order(results: Iterable[PointResult], points: Sequence[GridPoint]) -> list[PointResult]:
    """``results`` in the order of ``points`` (results of points not in it last)."""
    order = {p.key: i for i, p in enumerate(points)}
    return sorted(results, key=lambda r: order.get(r.point.key, len(order)))


def _settled(old: PointResult, new: Sequence[TaskResult]) -> PointResult:
    """``old``'s seeds followed by ``new`` (the next seeds, in order) as one point's result."""
    more = _combine(old.point, new)
    return PointResult(
        old.point,
        old.accuracies + more.accuracies,
        old.seconds + more.seconds,
        old.final_losses + more.final_losses,
        old.device or more.device,
        old.errors + more.errors,
        old.first_losses + more.first_losses,
    )


def settled_networks(results: Iterable[PointResult], seeds: int) -> dict[str, PointResult]:
    """The networks (by query) trained with more seeds than the search's ``seeds``: the ones settled."""
    return {r.point.query: r for r in results if r.ok and len(r.accuracies) > seeds}


def settled_seeds(card: dict[str, Any]) -> int | None:
    """The seeds a recorded search's networks were settled with (its card's ``settled``; None: not
    settled), so that re-running it live settles them the same way."""
    return max(card.get("settled", {}).values(), default=None)


def settle_targets(results: Iterable[PointResult]) -> list[PointResult]:
    """One result per network that a search's conclusions rest on: the ranking's winner and
    runner-up, the verdict's best compound point and its single-dimension baselines."""
    ranked, judged = ranking(results := list(results)), verdict(results)
    chosen = [ranked.winner, ranked.runner_up] if ranked is not None else []
    chosen += [judged.best, *(c.baseline for c in judged.comparisons)]
    return list({r.point.query: r for r in chosen if r is not None}.values())


def unsettled(results: Iterable[PointResult], seeds: int) -> list[PointResult]:
    """The networks :func:`settle` would still train to ``seeds`` seeds (empty once it has finished):
    what is left of a settling that was cancelled."""
    return [r for r in settle_targets(results) if len(r.accuracies) < seeds]


def settle(
    spec: SearchSpec,
    directory: str | os.PathLike[str],
    executor: Executor,
    seeds: int,
    *,
    points: Sequence[GridPoint] | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[PointResult, int, int], None] | None = None,
) -> SearchRun:
    """Train the networks the search's conclusions rest on with more seeds, up to ``seeds`` each:
    the ranking's winner and runner-up, and the verdict's best compound point with the single-
    dimension baselines it is judged against (:func:`settle_targets`). The :func:`margin` between
    two of them shrinks about as 1/sqrt(seeds), so a small gap can be told apart (or shown to be a
    tie), and the spreads come from more than a few lucky or unlucky seeds.

    A network with K seeds gets seeds K..seeds-1 (new draws of data and initial weights, trained
    exactly as the first ones); every point of that network (twins included) gets a new line in
    ``results.jsonl`` with all its seeds, which :func:`load_results` takes over the old one. When
    the extra seeds change the targets (another network moves up), the new ones are settled too.
    Stops like :func:`run_search`; ``results`` come in the order of ``points`` where given (the
    plan), else in the order of ``results.jsonl``."""
    if not spec.seeds <= seeds <= MAX_SEEDS:
        raise InputError(f"{seeds}; allowed: {spec.seeds} (the search's seeds) to {MAX_SEEDS}", field="settle")
    directory = Path(directory)
    _prepare(spec, directory)
    _, earlier = load_results(directory)
    results = {r.point.key: r for r in earlier}
    run = SearchRun(spec, [r.point for r in earlier])
    run.executor = executor.description
    total = 0

    def settled(out: Any, query: str, new: list[TaskResult]) -> None:
        for key, old in list(results.items()):
            if old.point.query == query:
                results[key] = _settled(old, new)
                _append(out, results[key])
        run.trained += 1
        if progress:
            progress(next(r for r in results.values() if r.point.query == query), run.trained, total)

    while not run.cancelled and (short := unsettled(results.values(), seeds)):
        total = run.trained + len(short)
        tasks = [spec.task(r.point.query, seed) for r in short for seed in range(len(r.accuracies), seeds)]
        run.cancelled, wall = _by_network(directory, tasks, executor, stop, settled)
        run.wall_seconds += wall
    run.results = _in_plan_order(results.values(), points) if points is not None else list(results.values())
    return run


class BackgroundSearch:
    """A search running on a thread of this process (the Scaling lab's Search tab): the page polls
    ``results.jsonl`` and may :meth:`cancel`. The executor is made on the thread and closed there.
    With ``settle``, the networks the verdict rests on are then trained with that many seeds
    (:func:`settle`), as a recorded search that was settled is re-run."""

    def __init__(
        self,
        spec: SearchSpec,
        directory: str | os.PathLike[str],
        make: Callable[[], Executor],
        settle: int | None = None,
    ) -> None:
        self.spec, self.directory, self._make, self.settle = spec, Path(directory), make, settle
        self.stop = threading.Event()
        self.error: str | None = None
        self.run: SearchRun | None = None
        self._thread = threading.Thread(target=self._main, name=f"search-{spec.key}", daemon=True)

    def start(self) -> BackgroundSearch:
        self._thread.start()
        return self

    def _main(self) -> None:
        executor = None
        try:
            executor = self._make()
            self.run = run_search(self.spec, self.directory, executor, stop=self.stop)
            if self.settle is not None and not self.run.cancelled:
                settle(self.spec, self.directory, executor, self.settle, stop=self.stop)
        except Exception as exc:  # shown on the page; the thread must not die silently
            self.error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        finally:
            if executor is not None:
                executor.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def cancel(self) -> None:
        self.stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


# -- the honest result (numbers and outcomes; explorer.views.search says them in words) --------------
#: Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom (scipy is not a dependency
#: for 30 numbers); beyond 30 degrees, the one at 30 (1.96 at infinity: a little conservative).
T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t95(degrees: float) -> float:
    """Student's t two-sided 95 % quantile at ``degrees`` of freedom (rounded down, at least 1)."""
    return T95[min(max(int(degrees), 1), len(T95)) - 1]


def margin(a: PointResult, b: PointResult) -> float:
    """Half the width of the 95 % confidence interval of the difference of ``a``'s and ``b``'s mean
    accuracies: a difference beyond it is one these seeds tell apart.

    Every point trains seed k on the same data stream (and held-out images), and that stream moves
    both networks alike (two leaders' accuracies correlated 0.6 over 20 seeds at 2,400 steps, where
    some seeds' streams were hard; 0.34 over 8 at 4,800 steps, where none stays stuck), so with
    the same seeds on both sides the seed-by-seed differences are compared (paired t); otherwise
    the two means' standard errors (Welch's t). Either way it shrinks about as 1/sqrt(seeds):
    training more seeds of two close networks (:func:`settle`) can tell them apart, which a rule on
    the spreads alone never could. 0 when neither has two seeds (nothing measured)."""
    na, nb = len(a.accuracies), len(b.accuracies)
    if na == nb >= 2:
        differences = [x - y for x, y in zip(a.accuracies, b.accuracies, strict=True)]
        return t95(na - 1) * statistics.stdev(differences) / math.sqrt(na)
    terms = [r.standard_error**2 for r in (a, b)]
    if sum(terms) == 0:
        return 0.0
    degrees = sum(terms) ** 2 / sum(t**2 / (n - 1) for t, n in zip(terms, (na, nb), strict=True) if n > 1)
    return t95(degrees) * math.sqrt(sum(terms))


class Outcome(enum.Enum):
    """The best compound point against one baseline, with the :func:`margin` as the noise."""

    BETTER = "better"
    WORSE = "worse"
    WITHIN_SPREAD = "within spread"


@dataclass(frozen=True)
class Comparison:
    """The best compound point against one single-dimension baseline."""

    baseline: PointResult
    difference: float
    #: The :func:`margin`: differences within it are not told apart by these seeds.
    noise: float
    macs_ratio: float

    @property
    def outcome(self) -> Outcome:
        if self.difference > self.noise:
            return Outcome.BETTER
        if self.difference < -self.noise:
            return Outcome.WORSE
        return Outcome.WITHIN_SPREAD


@dataclass(frozen=True)
class Verdict:
    best: PointResult | None
    comparisons: tuple[Comparison, ...]
    base: PointResult | None

    @property
    def wins(self) -> bool:
        """The best compound point beats every baseline by more than the :func:`margin`."""
        return bool(self.comparisons) and {c.outcome for c in self.comparisons} == {Outcome.BETTER}


def verdict(results: Iterable[PointResult]) -> Verdict:
    """Does the best compound point (at least two dimensions scaled) beat the single-dimension
    baselines? Measured differences in mean accuracy, with the :func:`margin` as the noise."""
    results = [r for r in results if r.ok]
    compound = [r for r in results if r.point.compound]
    singles = [r for r in results if r.point.kind in ("depth", "width", "resolution")]
    base = next((r for r in results if r.point.kind == "base"), None)
    if not compound:
        return Verdict(None, (), base)
    best = max(compound, key=lambda r: (r.accuracy, -r.point.macs))
    comparisons = tuple(
        Comparison(
            s,
            best.accuracy - s.accuracy,
            margin(best, s),
            best.point.macs / s.point.macs,
        )
        for s in singles
    )
    return Verdict(best, comparisons, base)


@dataclass(frozen=True)
class Ranking:
    """Whether a search ranks its points: the winner against the runner-up (by the :func:`margin`),
    and the seeds' spread against the range of accuracies across the grid."""

    winner: PointResult
    runner_up: PointResult | None
    #: winner's accuracy minus the runner-up's, and their :func:`margin`.
    difference: float
    noise: float
    #: the largest accuracy minus the smallest over every finished point, and the largest spread.
    accuracy_range: float
    largest_spread: float

    @property
    def separated(self) -> bool:
        """The winner is ahead of the runner-up by more than their :func:`margin`."""
        return self.runner_up is not None and self.difference > self.noise

    @property
    def larger_spread(self) -> float:
        """The larger of the winner's and the runner-up's spread over seeds (NaN without a runner-up)."""
        return max(self.winner.spread, self.runner_up.spread) if self.runner_up is not None else math.nan

    @property
    def clear_of_spread(self) -> bool:
        """The gap is also wider than either network's spread over seeds (the margin only says the
        *means* are apart; a single training of each lands within its spread)."""
        return self.separated and self.difference > self.larger_spread

    @property
    def seeds_ahead(self) -> tuple[int, int]:
        """``(k, n)``: over the ``n`` seeds both trained (seed k is the same data for both), the winner
        ended ahead of the runner-up in ``k``: how often one training of each comes out in this order."""
        if self.runner_up is None:
            return (0, 0)
        pairs = list(zip(self.winner.accuracies, self.runner_up.accuracies, strict=False))
        return (sum(a > b for a, b in pairs), len(pairs))

    @property
    def ranks(self) -> bool:
        """Every point's spread is under a third of the accuracy range across the grid."""
        return self.accuracy_range > 0 and self.largest_spread < self.accuracy_range / 3


def ranking(results: Iterable[PointResult]) -> Ranking | None:
    """The :class:`Ranking` of the finished points (None when none has finished); the runner-up is
    the best other *network* (a rule that rounds to the winner's network is the winner)."""
    done = sorted((r for r in results if r.ok), key=lambda r: (-r.accuracy, r.point.macs))
    if not done:
        return None
    winner = done[0]
    # Two rules can round to the same network (e.g. gamma 1.4 and resolution only): its twin trains
    # the same weights to the same accuracy and is no runner-up.
    runner_up = next((r for r in done if r.point.query != winner.point.query), None)
    accuracies = [r.accuracy for r in done]
    return Ranking(
        winner=winner,
        runner_up=runner_up,
        difference=winner.accuracy - runner_up.accuracy if runner_up else math.nan,
        noise=margin(winner, runner_up) if runner_up else math.nan,
        accuracy_range=max(accuracies) - min(accuracies),
        largest_spread=max(r.spread for r in done),
    )
