"""The honest result, torch-free: does the best compound point beat the baselines, and does the
search rank its points at all?

Numbers and outcomes only (:mod:`explorer.views.search_text` says them in words): two networks are
told apart when their mean accuracies differ by more than the :func:`margin`, half the 95 %
confidence interval of the difference.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from explorer.analysis.search.results import PointResult

__all__ = ["T95", "Comparison", "Outcome", "Ranking", "Verdict", "margin", "ranking", "t95", "verdict"]


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
