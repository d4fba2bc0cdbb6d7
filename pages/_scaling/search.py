"""The Scaling lab's Search tab: EfficientNet's grid search for alpha, beta, gamma, trained on shapes
in the background (``explorer.analysis.search``), a recorded one opened at once, any one reopened by
its link (``search=<key>``)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import streamlit as st

from explorer.analysis.runs import RecordedRun, recorded_runs
from explorer.analysis.scaling import rule_base
from explorer.analysis.search import (
    SEARCH,
    BackgroundSearch,
    PointResult,
    SearchSpec,
    load_results,
    make_executor,
    parse_axis,
    ranking,
    search_directory,
    settled_seeds,
    unsettled,
    verdict,
)
from explorer.formatting import human_duration as minutes
from explorer.knobs import ConfigError, ModelConfig
from explorer.views.search import accuracy_vs_macs, grid_space, results_frame
from explorer.views.search_text import (
    claim_in_words,
    method_caption,
    plan_sentence,
    ranking_sentence,
    rerun_estimate,
    settling_in_words,
    verdict_sentence,
)
from pages._scaling.analyses import cached_plan
from pages._scaling.state import W, set_rule
from pages._shared.architecture import page_param, set_page_param
from pages._shared.device import current_device
from pages._shared.state import SEARCH_JOB
from pages._shared.tables import table

#: The default base: small enough that a grid of ~19 points x 2 seeds trains in minutes.
SMALL_BASE = "family=plain&depth=4&width=8&resolution=32"
OWN_KEYS_HELP = "EfficientNet carries alpha, beta, gamma in its own keys: set them in the sidebar"
INTRO = (
    "EfficientNet's α, β, γ came from a small grid search at phi = 1 under α·β²·γ² ≈ 2. Here each grid "
    "point is trained briefly on shapes and compared with networks scaled in one dimension only at about "
    "the same MACs: the comparison the method rests on."
)


# -- callbacks -----------------------------------------------------------------------------------
def start_search(spec: SearchSpec, workers: int, device: str, settle: int | None = None) -> None:
    job = SEARCH_JOB.get()
    if job is not None and job.running:
        return
    directory = search_directory(spec.key)
    make = lambda: make_executor(workers, None, device)  # noqa: E731
    SEARCH_JOB.set(BackgroundSearch(spec, directory, make, settle).start())
    set_page_param("search", spec.key)


def cancel_search() -> None:
    job = SEARCH_JOB.get()
    if job is not None:
        job.cancel()


def apply_best(alpha: float, beta: float, gamma: float) -> None:
    """Put a search's best point on the what-if sliders (and in the URL), at phi = 1."""
    set_rule({"phi": 1.0, "alpha": alpha, "beta": beta, "gamma": gamma})


def running_here(directory: Path) -> BackgroundSearch | None:
    """This session's search, if it is the one in ``directory`` and still running."""
    job = SEARCH_JOB.get()
    return job if job is not None and job.running and job.directory == directory else None


# -- results ----------------------------------------------------------------------------------------
def progress(spec: SearchSpec, directory: Path, done: int, total: int, results: list[PointResult]) -> None:
    """How far the search in ``directory`` got, and the button that cancels or resumes it (its grid,
    or the settling this session started and cancelled)."""
    job = SEARCH_JOB.get()
    if running_here(directory):
        text = f"{done} of {total} points trained ({spec.seeds} seeds each)"
        if done == total and job is not None and job.settle:
            text = f"every point trained; now the networks the verdict rests on get up to {job.settle} seeds each"
        st.progress(done / total, text=text)
        st.button("Cancel the search", key=W.search_cancel.key, on_click=cancel_search)
    elif job is not None and job.directory == directory and job.error:
        st.error(f"The search stopped: {job.error}")
    else:
        settle = job.settle if job is not None and job.directory == directory else None
        left = unsettled(results, settle) if settle and done == total else []
        if done < total:
            st.caption(f"{done} of {total} points trained; finished points are kept when it resumes.")
        elif left:
            st.caption(
                f"Settling stopped: {len(left)} of the networks the verdict rests on have fewer than {settle} "
                "seeds; the seeds already trained are kept when it resumes."
            )
        if done < total or left:
            args = (spec, os.cpu_count() or 1, current_device(), settle)
            label = "Resume the search" if done < total else "Resume settling"
            st.button(label, key=W.search_resume.key, on_click=start_search, args=args)


def search_results(spec: SearchSpec, directory: Path, can_apply: bool) -> None:
    """Progress, the plot, the verdict, the ranking and the table of the search in ``directory``."""
    points = cached_plan(spec)
    _, results = load_results(directory)
    finished = {r.point.key for r in results}
    done = sum(1 for p in points if p.key in finished)
    progress(spec, directory, done, len(points), results)
    judged = verdict(results)
    ranked = ranking(results)
    best_key = judged.best.point.key if judged.best else None
    st.plotly_chart(accuracy_vs_macs(results, spec, points, best_key), key=W.search_plot.key)
    if done == len(points) and judged.best is not None:
        _, words = claim_in_words(judged, ranked)
        with st.container(border=True):  # the claim judged in a learner's words; the terse lines follow
            st.markdown(words)
            settling = settling_in_words(results, spec.seeds)
            if settling:
                st.markdown(settling)
    if judged.best is not None:
        (st.success if judged.wins else st.warning)(verdict_sentence(judged))
        b = judged.best.point
        st.button(
            f"Apply the best point to the what-if sliders (α={b.alpha:g}, β={b.beta:g}, γ={b.gamma:g}, phi=1)",
            key=W.search_apply.key,
            on_click=apply_best,
            args=(b.alpha, b.beta, b.gamma),
            disabled=not can_apply,
            help=None if can_apply else OWN_KEYS_HELP,
        )
    else:
        st.caption(verdict_sentence(judged))
    if ranked is not None and ranked.runner_up is not None:
        (st.info if ranked.separated and ranked.ranks else st.warning)(ranking_sentence(ranked))
    base = next((p for p in points if p.kind == "base"), None)
    table(  # counts with thousands separators (readable on a projector), fractions as percentages
        results_frame(results, base.macs if base else None),
        hide_index=True,
        column_config={"± spread": st.column_config.NumberColumn(format="percent")},
        key=W.search_table.key,
    )
    if results:
        st.plotly_chart(grid_space(results, spec), key=W.search_space.key)
    st.caption(method_caption(spec, directory, results))


@st.fragment(run_every=1.0)
def live_search(spec: SearchSpec, directory: Path, can_apply: bool) -> None:
    search_results(spec, directory, can_apply)
    if running_here(directory) is None:
        st.rerun()  # finished or cancelled: the whole page, without the timer


# -- a recorded search, a linked one, a new one --------------------------------------------------------
def recorded_search(run: RecordedRun, can_apply: bool) -> None:
    """A recorded search, opened at once (its results are data); re-run live on request, with the
    time it took when recorded shown first."""
    card = run.card
    spec, results = load_results(run.path)
    if spec is None or sorted(r.point.key for r in results) != sorted(p["key"] for p in run.data["points"]):
        st.error(f"Recorded search {run.name}: its results.jsonl does not match its checksummed data.json")
        return
    settled = settled_seeds(card)
    seeds = f"{spec.seeds} seeds" + (f" (the networks the verdict rests on: {settled})" if settled else "")
    st.markdown(
        f"**Recorded search: {run.title}.** Base `{spec.query}`, {spec.steps} steps, {seeds}; recorded on "
        f"{card['device']} ({card.get('executor', '')}) in {minutes(card['wall_s'])}, torch {card['torch']}."
    )
    search_results(spec, run.path, can_apply)
    with st.expander("How it was made"):
        st.code(card["command"], language="bash")
        st.caption(
            f"Created {card.get('created', '?')} · {card.get('device_name', '')} · load average then "
            f"{card.get('load', '?')} · data checksum `{card['checksum']}`"
        )
    workers, device = os.cpu_count() or 1, current_device()
    st.caption(rerun_estimate(card["wall_s"], card["device"], workers, device))
    job = SEARCH_JOB.get()
    st.button(
        "Re-run this search live",
        key=W.search_rerun.key,
        on_click=start_search,
        args=(spec, workers, device, settled_seeds(card)),
        disabled=job is not None and job.running,
    )


def linked_search(key: str, can_apply: bool) -> bool:
    """The search of the link's ``search=<key>``; False when this server does not have it."""
    spec = None
    try:
        directory = search_directory(key)
        spec, _ = load_results(directory)
    except ValueError as error:
        st.error(f"The link's search cannot be opened: {error}")
    if spec is None:
        st.warning(f"No search `{key}` on this server (its results are gone): set one up below.")
        return False
    st.markdown(f"**Search `{key}`**: base `{spec.query}`, {spec.steps} steps, {spec.seeds} seeds.")
    (live_search if running_here(directory) else search_results)(spec, directory, can_apply)
    st.button("New search", key=W.search_new.key, on_click=set_page_param, args=("search", None))
    return True


def search_controls(base_query: str) -> tuple[SearchSpec | None, int]:
    """The grid and budget as a spec (None when the grid is not valid; the error is shown)."""
    columns = st.columns(3)
    axes = (
        (W.search_alpha, "alpha", "depth: START:STOP:STEP or a list"),
        (W.search_beta, "beta", "width"),
        (W.search_gamma, "gamma", "resolution"),
    )
    texts = [
        column.text_input(f"{name} grid", "1.0:1.4:0.1", key=widget.key, help=help_text)
        for column, (widget, name, help_text) in zip(columns, axes, strict=True)
    ]
    budget = st.columns(4)
    tolerance = budget[0].number_input("Tolerance on α·β²·γ² − 2", 0.01, 1.0, 0.1, 0.01, key=W.search_tol.key)
    steps = budget[1].select_slider("Steps per run", [10, 20, 40, 60, 100, 200, 400], 60, key=W.search_steps.key)
    seeds = budget[2].select_slider("Seeds", [1, 2, 3, 4, 5], 2, key=W.search_seeds.key)
    cores = os.cpu_count() or 1
    workers = int(budget[3].number_input("Workers", 1, cores, cores, key=W.search_workers.key))
    try:
        alphas, betas, gammas = (parse_axis(text, name) for text, (_, name, _) in zip(texts, axes, strict=True))
        spec = SearchSpec(
            query=base_query,
            alphas=alphas,
            betas=betas,
            gammas=gammas,
            tolerance=tolerance,
            seeds=seeds,
            settings=dataclasses.replace(SEARCH, steps=steps),
        )
        cached_plan(spec)  # the grid's own errors (nothing within the tolerance, too many points)
    except (ValueError, ConfigError) as error:
        st.error(str(error))
        return None, workers
    return spec, workers


def new_search(config: ModelConfig) -> None:
    """Set up a search (base, grid, budget) and start it."""
    sidebar = rule_base(config).query
    base_query = st.radio(
        "Base network (phi = 0)",
        [SMALL_BASE, sidebar] if sidebar != SMALL_BASE else [SMALL_BASE],
        format_func=lambda q: f"small plain CNN: {q}" if q == SMALL_BASE else f"the sidebar's: {q}",
        key=W.search_base.key,
        help="every run trains a network of about this size; the sidebar's ImageNet-sized models take minutes a run",
    )
    spec, workers = search_controls(base_query)
    if spec is None:
        return
    device = current_device()
    st.markdown(plan_sentence(cached_plan(spec), spec, workers, device))
    job = SEARCH_JOB.get()
    busy = job is not None and job.running
    st.button(
        "Start the search",
        type="primary",
        key=W.search_start.key,
        on_click=start_search,
        args=(spec, workers, device),
        disabled=busy,
        help="another search of this session is still running" if busy else None,
    )


def search_tab(config: ModelConfig, can_apply: bool) -> None:
    st.markdown(INTRO)
    key = page_param("search")
    if key is not None and linked_search(key, can_apply):
        return
    if key is None:
        stored, problems = recorded_runs(kind="search")
        for problem in problems:
            st.error(str(problem))
        if stored:
            recorded_search(stored[0], can_apply)
            st.divider()
            st.markdown("**Or set up a search of your own:**")
    new_search(config)
