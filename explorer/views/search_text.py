"""Grid-search results -> sentences: the verdict, the ranking, how a search was made. No torch, no
streamlit, no plotly (the ``search`` command prints these)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

from explorer.analysis.search import (
    GridPoint,
    Outcome,
    PointResult,
    Ranking,
    SearchSpec,
    Verdict,
    settled_networks,
)
from explorer.formatting import human_duration

# -- verdict --------------------------------------------------------------------------------------
#: How each outcome reads in the verdict: "It is better than depth only (...)".
OUTCOME_PHRASES = {
    Outcome.BETTER: "better than",
    Outcome.WORSE: "worse than",
    Outcome.WITHIN_SPREAD: "not told apart from",
}


def verdict_sentence(judged: Verdict) -> str:
    """The verdict as a paragraph: the best compound point, each baseline, and what it adds up to."""
    best = judged.best
    if best is None:
        return "No compound point has finished yet."
    seeds = len(best.accuracies)
    head = (
        f"Best compound point {best.point.label}: {best.accuracy:.1%} ± {best.spread:.1%} over {seeds} "
        f"seed{'s' * (seeds > 1)} at {best.point.macs / 1e6:.3g} M MACs."
    )
    if not judged.comparisons:
        return head + " No single-dimension baseline has finished yet."
    parts = [
        f"{OUTCOME_PHRASES[c.outcome]} {c.baseline.point.kind} only ({c.baseline.accuracy:.1%} ± "
        f"{c.baseline.spread:.1%}, MACs ×{c.macs_ratio:.2f} of it; difference {c.difference:+.1%}, margin "
        f"{c.noise:.1%})"
        for c in judged.comparisons
    ]
    outcomes = {c.outcome for c in judged.comparisons}
    if judged.wins:
        summary = "It beats every single-dimension baseline by more than the margin its seeds resolve."
    elif Outcome.WORSE in outcomes:
        summary = "It does not beat every single-dimension baseline: at this scale compound scaling did not win here."
    else:
        summary = "The difference is within the margin its seeds resolve for at least one baseline: not shown to win."
    if best.spread == 0.0 and seeds == 1:
        summary += " (one seed: no spread measured, so the comparison is weak)"
    return f"{head} It is " + "; ".join(parts) + f". {summary}"


def _seeds(result: PointResult) -> str:
    count = len(result.accuracies)
    return f"{count} seed{'s' * (count != 1)}"


def _seed_by_seed(ranked: Ranking) -> str:
    """'; seed by seed the winner came out ahead in 7 of 8' (nothing with fewer than two shared seeds)."""
    ahead, shared = ranked.seeds_ahead
    return f"; seed by seed the winner came out ahead in {ahead} of {shared}" if shared >= 2 else ""


def ranking_sentence(ranked: Ranking) -> str:
    """Whether the winner is told apart from the runner-up, and whether the grid ranks its points."""
    w = ranked.winner
    head = f"Winner: {w.point.label}, {w.accuracy:.1%} ± {w.spread:.1%} ({_seeds(w)})."
    if ranked.runner_up is None:
        return head
    r = ranked.runner_up
    if not ranked.separated:
        beyond = ": these seeds do not tell the two apart"
    elif ranked.clear_of_spread:
        beyond = f", and more than either's spread over seeds ({ranked.larger_spread:.1%})"
    else:
        beyond = (
            f", but not more than the larger spread over seeds ({ranked.larger_spread:.1%}): the means are apart, yet "
            "a single training of each could still come out the other way"
        )
    if ranked.separated:
        beyond += _seed_by_seed(ranked)
    gap = (
        f" Runner-up: {r.point.label}, {r.accuracy:.1%} ± {r.spread:.1%} ({_seeds(r)}); the gap, "
        f"{ranked.difference:.1%}, is {'more' if ranked.separated else 'not more'} than the margin their seeds "
        f"resolve ({ranked.noise:.1%}, half the 95% confidence interval of the difference){beyond}."
    )
    spread = (
        f" Across the grid the accuracies span {ranked.accuracy_range:.1%} and the largest spread over seeds is "
        f"{ranked.largest_spread:.1%}: {'under' if ranked.ranks else 'not under'} a third of the span, so the search "
        f"{'ranks its points' if ranked.ranks else 'does not rank its points reliably'}."
    )
    return head + gap + spread


def method_caption(spec: SearchSpec, directory: Path, results: Sequence[PointResult] = ()) -> str:
    """How every point of ``spec`` was trained and judged, and where its results are (markdown)."""
    recipe = spec.settings
    shapes = f"{'rotated' if recipe.rotate else 'upright'} shapes" + (
        f" of radius {recipe.scale[0]:g}-{recipe.scale[1]:g} of half the side" if recipe.scale else ""
    )
    settled = sorted(r.point.label for r in settled_networks(results, spec.seeds).values())
    most = max((len(r.accuracies) for r in results), default=spec.seeds)
    more = (
        f"; then the networks the verdict and the ranking rest on ({', '.join(settled)}) with seeds 0-{most - 1}"
        if settled
        else ""
    )
    return (
        f"Each point: the base scaled at phi=1 by this page's rule, trained on {shapes} for {spec.steps} Adam steps "
        f"(lr {recipe.lr:g}{', cosine decay' if recipe.schedule == 'cosine' else ''}, batch {recipe.batch}) "
        f"with seeds 0-{spec.seeds - 1} (the same data and initial draws for every point){more}; held-out "
        f"accuracy on {recipe.held_out} images of another seed. Spread = standard deviation over seeds (where one "
        "more training may land); margin = half the 95% confidence interval of the difference of two means, "
        "seed by seed where both have the same seeds (what the seeds tell apart; it narrows about as 1/√seeds). "
        "Baselines scale one dimension to about 2 × the base's "
        f"counted MACs. Results: `{directory / 'results.jsonl'}`; this page's link reopens them."
    )


def plan_sentence(points: Sequence[GridPoint], spec: SearchSpec, workers: int, device: str) -> str:
    """What starting ``spec`` will train (markdown)."""
    kinds = [p.kind for p in points]
    return (
        f"**{len(points)} networks** ({kinds.count('grid')} grid points, the base, "
        f"{len(points) - kinds.count('grid') - 1} single-dimension baselines) × {spec.seeds} seeds = "
        f"**{len(points) * spec.seeds} trainings** of {spec.steps} steps on {workers} worker"
        f"{'s' * (workers > 1)} ({device})."
    )


def rerun_estimate(recorded_s: float, recorded_on: str, workers: int, device: str) -> str:
    """How long re-running a recorded search (``recorded_s`` seconds on 2 workers of ``recorded_on``)
    would take here."""
    estimate = recorded_s * (2 / workers if recorded_on == "cpu" else 1)
    where = (
        f"about {human_duration(estimate)} on {workers} CPU workers here (it took {human_duration(recorded_s)} on 2)"
        if device == "cpu"
        else f"it took {human_duration(recorded_s)} on 2 CPU workers; far less on {device}"
    )
    return f"Re-running it live trains every point again: {where}. The results then open as a new search."


# -- the seed's claim, for a learner -----------------------------------------------------------------
_ONLY = {"depth": "deeper only", "width": "wider only", "resolution": "higher resolution only"}


def _network(point: GridPoint) -> str:
    """What the network's knobs carry, e.g. "depth ×1.4, width ×1.2, resolution ×1"."""
    depth, width, resolution = point.achieved
    return f"depth ×{depth:.2g}, width ×{width:.2g}, resolution ×{resolution:.2g}"


def _apart(difference: float, noise: float) -> tuple[str, str]:
    """Both as percentages, with a second decimal when one would show them equal ("+1.8 %" against
    "1.8 %" reads as a tie where the verdict saw a difference)."""
    for digits in (1, 2, 3):
        a, b = f"{difference:+.{digits}%}", f"{noise:.{digits}%}"
        if a.lstrip("+-") != b:
            return a, b
    return a, b


def claim_in_words(judged: Verdict, ranked: Ranking | None) -> tuple[str, str]:
    """The seed's claim (compound beats single-dimension scaling at equal MACs) judged by a search's
    numbers, for a learner: ``(outcome, markdown)`` with outcome ``"holds"``, ``"refuted"``, ``"not
    shown"`` or ``"open"`` (nothing to judge yet). A difference counts only beyond the margin the seeds
    resolve (:func:`explorer.analysis.search.margin`)."""
    claim = (
        "**The claim:** at the same cost, growing depth, width and resolution together beats growing any one "
        "of them alone."
    )
    best = judged.best
    if best is None or not judged.comparisons:
        return "open", f"{claim} Not judged yet: the search needs a compound point and a single-dimension one."
    seeds = len(best.accuracies)
    head = (
        f"**The best compound network** ({best.point.label}: {_network(best.point)}) reached "
        f"**{best.accuracy:.1%} ± {best.spread:.1%}** held-out accuracy over {seeds} seeds. At about the same MACs "
        "(a difference counts when it is larger than the margin: half the 95% confidence interval of the "
        "difference, which more seeds narrow):"
    )
    comparisons = sorted(judged.comparisons, key=lambda c: list(_ONLY).index(c.baseline.point.kind))
    words = {
        Outcome.BETTER: "**better**",
        Outcome.WORSE: "**worse**",
        Outcome.WITHIN_SPREAD: "**no difference these seeds can see**",
    }
    bullets = []
    for c in comparisons:
        difference, noise = _apart(c.difference, c.noise)
        bullets.append(
            f"- {_ONLY[c.baseline.point.kind]} ({_network(c.baseline.point)}): {c.baseline.accuracy:.1%} ± "
            f"{c.baseline.spread:.1%} over {len(c.baseline.accuracies)} seeds; the compound network is {difference} "
            f"against it, margin {noise} (its advantage lies between {c.difference - c.noise:+.1%} and "
            f"{c.difference + c.noise:+.1%}): {words[c.outcome]}."
        )
    outcomes = {c.outcome for c in judged.comparisons}
    worse = [_ONLY[c.baseline.point.kind] for c in comparisons if c.outcome is Outcome.WORSE]
    even = [_ONLY[c.baseline.point.kind] for c in comparisons if c.outcome is Outcome.WITHIN_SPREAD]
    if outcomes == {Outcome.BETTER}:
        outcome = "holds"
        end = "It beats every one-dimension network by more than the margin: **the claim holds here.**"
    elif worse:
        outcome = "refuted"
        who = " and ".join(worse).capitalize()
        end = f"{who} beat it by more than the margin: **here the claim is refuted.**"
    else:
        outcome = "not shown"
        ceilings = " and ".join(
            f"over {_ONLY[c.baseline.point.kind]} is under {c.difference + c.noise:+.1%}"
            for c in comparisons
            if c.outcome is Outcome.WITHIN_SPREAD
        )
        end = (
            f"Against {' and '.join(even)} the difference is inside the margin: **these numbers neither show "
            f"nor refute the claim.** Any edge the compound network has {ceilings} (the top of the 95% interval)."
        )
    paragraphs = [claim, head + "\n" + "\n".join(bullets), end]
    if ranked is not None and ranked.runner_up is not None:
        w, r = ranked.winner, ranked.runner_up
        gap, noise = _apart(ranked.difference, ranked.noise)
        if not ranked.separated:
            order = f"not more than the margin their seeds resolve ({noise}), so other seeds could swap them"
        elif ranked.clear_of_spread:
            order = (
                f"more than the margin their seeds resolve ({noise}) and than either's spread "
                f"({ranked.larger_spread:.1%}): these seeds tell the two apart{_seed_by_seed(ranked)}"
            )
        else:
            order = (
                f"more than the margin their seeds resolve ({noise}): these seeds tell the two apart on "
                f"average, though a single training of each could still swap them{_seed_by_seed(ranked)}"
            )
        trust = (
            f"under a third of the {ranked.accuracy_range:.1%} between the best and the worst network: the grid is "
            "ranked by the architectures, not by the luck of the seeds."
            if ranked.ranks
            else f"not under a third of the {ranked.accuracy_range:.1%} between the best and the worst network: "
            "where the spread is that wide, the luck of the seeds can move the order."
        )
        paragraphs.append(
            f"**Can the ranking be trusted?** The winner of the whole grid, {w.point.label} ({w.accuracy:.1%}), is "
            f"{gap.lstrip('+')} ahead of the runner-up, {r.point.label} ({r.accuracy:.1%}): {order}. The "
            f"largest spread of any network, {ranked.largest_spread:.1%}, is {trust}"
        )
    return outcome, "\n\n".join(paragraphs)


def settling_in_words(results: Sequence[PointResult], seeds: int) -> str | None:
    """What the extra seeds of a settled search changed (markdown; None when nothing was settled):
    each settled network's mean over the search's first ``seeds`` seeds against all of its seeds.
    The networks chosen for settling lead the grid, and a lead measured with few seeds is partly
    luck, so their means usually fall (the winner's curse)."""
    settled = settled_networks(results, seeds)
    if not settled:
        return None
    rows = sorted(settled.values(), key=lambda r: -statistics.fmean(r.accuracies[:seeds]))
    lines = [
        f"- {r.point.label}: {statistics.fmean(r.accuracies[:seeds]):.1%} over {seeds} seeds, "
        f"**{r.accuracy:.1%} ± {r.spread:.1%} over {len(r.accuracies)}**"
        for r in rows
    ]
    fell = sum(r.accuracy < statistics.fmean(r.accuracies[:seeds]) for r in rows)
    return (
        f"**More seeds for the networks the verdict rests on** (the leaders and the one-dimension baselines): "
        f"{fell} of {len(rows)} ended lower than their first {seeds} seeds had put them. A network that leads "
        "after a few seeds leads partly by the luck of those seeds, so leaders tend to fall when measured "
        "again (the winner's curse).\n" + "\n".join(lines)
    )
