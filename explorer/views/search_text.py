"""Grid-search results -> sentences: the verdict, the ranking, how a search was made. No torch, no
streamlit, no plotly (the ``search`` command prints these)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from explorer.analysis.search import GridPoint, Outcome, Ranking, SearchSpec, Verdict
from explorer.formatting import human_duration

# -- verdict --------------------------------------------------------------------------------------
#: How each outcome reads in the verdict: "It is better than depth only (...)".
OUTCOME_PHRASES = {
    Outcome.BETTER: "better than",
    Outcome.WORSE: "worse than",
    Outcome.WITHIN_SPREAD: "within the spread of",
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
        f"{c.baseline.spread:.1%}, MACs ×{c.macs_ratio:.2f} of it; difference {c.difference:+.1%})"
        for c in judged.comparisons
    ]
    outcomes = {c.outcome for c in judged.comparisons}
    if judged.wins:
        summary = "It beats every single-dimension baseline by more than the seeds' spread."
    elif Outcome.WORSE in outcomes:
        summary = "It does not beat every single-dimension baseline: at this scale compound scaling did not win here."
    else:
        summary = "The differences are within the seeds' spread for at least one baseline: not shown to win."
    if best.spread == 0.0 and seeds == 1:
        summary += " (one seed: no spread measured, so the comparison is weak)"
    return f"{head} It is " + "; ".join(parts) + f". {summary}"


def ranking_sentence(ranked: Ranking) -> str:
    """Whether the winner is told apart from the runner-up, and whether the grid ranks its points."""
    w = ranked.winner
    head = f"Winner: {w.point.label}, {w.accuracy:.1%} ± {w.spread:.1%}."
    if ranked.runner_up is None:
        return head
    r = ranked.runner_up
    gap = (
        f" Runner-up: {r.point.label}, {r.accuracy:.1%} ± {r.spread:.1%}; the gap, {ranked.difference:.1%}, is "
        f"{'more' if ranked.separated else 'not more'} than their combined spread ({ranked.noise:.1%})"
        f"{'' if ranked.separated else ': these seeds do not tell the two apart'}."
    )
    spread = (
        f" Across the grid the accuracies span {ranked.accuracy_range:.1%} and the largest spread over seeds is "
        f"{ranked.largest_spread:.1%}: {'under' if ranked.ranks else 'not under'} a third of the span, so the search "
        f"{'ranks its points' if ranked.ranks else 'does not rank its points reliably'}."
    )
    return head + gap + spread


def method_caption(spec: SearchSpec, directory: Path) -> str:
    """How every point of ``spec`` was trained and judged, and where its results are (markdown)."""
    shapes = f"{'rotated' if spec.rotate else 'upright'} shapes" + (
        f" of radius {spec.scale[0]:g}-{spec.scale[1]:g} of half the side" if spec.scale else ""
    )
    return (
        f"Each point: the base scaled at phi=1 by this page's rule, trained on {shapes} for {spec.steps} Adam steps "
        f"(lr {spec.lr:g}{', cosine decay' if spec.schedule == 'cosine' else ''}, batch {spec.batch}) "
        f"with seeds 0-{spec.seeds - 1} (the same data and initial draws for "
        f"every point), held-out accuracy on {spec.held_out} images of another seed; spread = standard deviation "
        "over seeds. Baselines scale "
        "one dimension to about 2 × the base's counted MACs. Results: "
        f"`{directory / 'results.jsonl'}`; this page's link reopens them."
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
