"""The search's plan: the grid of (alpha, beta, gamma) under alpha·beta²·gamma² ≈ 2, and its networks.

:func:`plan` gives every grid point whose alpha·beta²·gamma² lies within ``tolerance`` of 2, plus
alpha = beta = gamma = 1 (the base network) and three single-dimension baselines (depth only, width
only, resolution only) whose multiplier is chosen so that their *counted* MACs are nearest to 2 x the
base's (the comparison the method rests on: at equal cost, is the compound point better?). Each point
is the base config scaled at phi = 1 by the Scaling lab's own rule
(:func:`explorer.analysis.scaling.rule_config`, which asks the family's ``scale_knobs``), so any
family scales, composed models included. :class:`SearchSpec` is everything a search depends on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from explorer.analysis.recipe import SHAPES, TrainSettings
from explorer.analysis.search.task import TaskSpec
from explorer.compound import COEFFICIENT_RANGE, TARGET_FLOPS_RATIO, Rule, flops_ratio
from explorer.errors import InputError

__all__ = [
    "ALWAYS_WRITTEN",
    "KINDS",
    "MAX_AXIS_VALUES",
    "MAX_POINTS",
    "MAX_SEEDS",
    "SEARCH",
    "GridPoint",
    "SearchSpec",
    "grid_rules",
    "parse_axis",
    "plan",
]


#: Point kinds: the base network, grid points, and the three single-dimension baselines.
KINDS = ("base", "grid", "depth", "width", "resolution")


#: The most grid points one search may plan (each is K trainings).
MAX_POINTS = 200


#: The most seeds a point may be trained with (:attr:`SearchSpec.seeds`, :func:`settle`).
MAX_SEEDS = 20


#: The most values one axis may take.
MAX_AXIS_VALUES = 41


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


#: The search's recipe: the shapes trainer's (Adam 1e-3, batch 32, rotated shapes, fresh images every
#: step), 60 steps, accuracy on 128 held-out images. A search changes it with ``dataclasses.replace``.
SEARCH = dataclasses.replace(SHAPES, steps=60, held_out=128)
#: Recipe fields a search's file always holds (the first version's); the others only when they differ
#: from :data:`SEARCH`, so a search set up before a field existed keeps its key. ``seed`` is the task's.
ALWAYS_WRITTEN = ("steps", "batch", "lr")


@dataclass(frozen=True, kw_only=True)
class SearchSpec:
    """Everything a search depends on; equal specs give equal results (the directory's identity).

    ``settings``: the recipe every network is trained with (its ``seed`` is each task's: 0..seeds-1).
    Cosine decay to zero (``schedule="cosine"``) ends every run with small steps, so the seeds'
    accuracies scatter less."""

    query: str
    alphas: tuple[float, ...] = parse_axis("1.0:1.4:0.1")
    betas: tuple[float, ...] = parse_axis("1.0:1.4:0.1")
    gammas: tuple[float, ...] = parse_axis("1.0:1.4:0.1")
    tolerance: float = 0.1
    seeds: int = 2
    settings: TrainSettings = SEARCH

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise InputError(f"{self.tolerance}; allowed: a number above 0", field="tolerance")
        if self.settings.steps is None:
            raise InputError("None; a search trains every network for a number of steps", field="steps")
        if not 1 <= self.seeds <= MAX_SEEDS:
            raise InputError(f"{self.seeds}; allowed: 1 to {MAX_SEEDS}", field="seeds")

    @property
    def steps(self) -> int:
        """Training steps per network (the recipe's)."""
        assert self.settings.steps is not None  # checked on construction
        return self.settings.steps

    def to_dict(self) -> dict[str, Any]:
        """The search's file (``search.json``) and key: the grid, and the recipe flat beside it (the
        first version's ``steps``, ``batch``, ``lr`` always; any other field where it differs from
        :data:`SEARCH`), so a search set up before a field existed keeps its key."""
        recipe = {f.name: getattr(self.settings, f.name) for f in dataclasses.fields(self.settings) if f.name != "seed"}
        kept = {k: v for k, v in recipe.items() if k in ALWAYS_WRITTEN or v != getattr(SEARCH, k)}
        data = {
            "query": self.query,
            "alphas": self.alphas,
            "betas": self.betas,
            "gammas": self.gammas,
            "tolerance": self.tolerance,
            "steps": kept.pop("steps"),
            "seeds": self.seeds,
            **kept,
        }
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpec:
        """The spec of a search's file (:meth:`to_dict`; unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"settings"}
        recipe = {f.name for f in dataclasses.fields(TrainSettings)} - {"seed"}
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        settings = dataclasses.replace(SEARCH, **{k: v for k, v in values.items() if k in recipe})
        return cls(**{k: v for k, v in values.items() if k in names}, settings=settings)

    def task(self, query: str, seed: int) -> TaskSpec:
        """The training of network ``query`` with ``seed`` in this search (on the CPU, one thread)."""
        return TaskSpec(query, dataclasses.replace(self.settings, seed=seed))

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
