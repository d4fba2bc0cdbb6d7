"""Scaling lab: EfficientNet's compound rule (and MobileNet's multipliers) as what-if sliders; counted
cost against the rule's prediction and the published models; measured cost beside counted cost."""

import os
from functools import partial

import streamlit as st

from explorer.analysis.latency import (
    DEFAULT_TIMED_PRESETS,
    Timing,
    cost_per_mac_summary,
    measure,
    timeable_presets,
    timing_jobs,
)
from explorer.analysis.published import published_accuracies
from explorer.analysis.runs import RecordedRun, recorded_runs
from explorer.analysis.scaling import (
    MAX_PINS,
    GridCell,
    PublishedPoint,
    RoundingExplanation,
    Rule,
    SweepPoint,
    compare,
    explain_rounding,
    format_pins,
    mobilenet_grid,
    nearest_published,
    parse_pins,
    phi_values,
    published_efficientnets,
    rule_base,
    rule_config,
    sweep,
)
from explorer.analysis.search import (
    BackgroundSearch,
    GridPoint,
    SearchSpec,
    load_results,
    make_executor,
    parse_axis,
    plan,
    ranking,
    search_directory,
    verdict,
)
from explorer.compound import COEFFICIENT_RANGE, PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, PHI_RANGE
from explorer.config import ConfigError, parse_query
from explorer.formatting import human_count
from explorer.views.scaling import (
    accuracy_vs_cost,
    compare_stages,
    cost_plane,
    cost_vs_phi,
    factor_bars,
    latency_vs_macs,
    mobilenet_heatmap,
    stage_lines,
)
from explorer.views.scaling_tables import (
    accuracy_frame,
    compare_frame,
    factor_frame,
    grid_frame,
    published_frame,
    rounding_frame,
    stage_frame,
    sweep_frame,
    timing_frame,
)
from explorer.views.search import accuracy_vs_macs, claim_in_words, grid_space, results_frame
from pages._shared.architecture import architecture_controls, page_param, set_page_param
from pages._shared.caches import cached_profile
from pages._shared.device import current_device
from pages._shared.inputs import published_weights_choice
from pages._shared.queue import slow_work
from pages._shared.state import MEASURED_TIMINGS, SEARCH_JOB, MeasuredTimings
from pages._shared.tables import table

#: The what-if sliders: URL key, default and range (the rule's constants: explorer.compound).
RULE_KEYS = {
    "phi": ("scale_phi", 1.0, *PHI_RANGE),
    "alpha": ("scale_alpha", PAPER_ALPHA, *COEFFICIENT_RANGE),
    "beta": ("scale_beta", PAPER_BETA, *COEFFICIENT_RANGE),
    "gamma": ("scale_gamma", PAPER_GAMMA, *COEFFICIENT_RANGE),
}
PAGE_KEYS = ("pins", "max_phi", "search", *(url for url, *_ in RULE_KEYS.values()))
#: The Search tab's default base: small enough that a grid of ~19 points x 2 seeds trains in minutes.
SMALL_BASE = "family=plain&depth=4&width=8&resolution=32"


def _profiler(config):
    return cached_profile(config.query)


# -- cached analyses (keyed by queries and numbers; results are plain dataclasses) ------------------
@st.cache_data(max_entries=64, show_spinner=False)
def cached_sweep(query: str, rule: Rule, phis: tuple[float, ...]) -> list[SweepPoint]:
    return sweep(parse_query(query), rule, phis, _profiler)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_explain(query: str, rule: Rule, phi: float) -> RoundingExplanation:
    return explain_rounding(parse_query(query), rule, phi, _profiler)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_published(rule: Rule, lite: bool = False) -> list[PublishedPoint]:
    return published_efficientnets(rule, _profiler, lite)


@st.cache_data(show_spinner=False)
def cached_grid() -> list[GridCell]:
    return mobilenet_grid(profiler=_profiler)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_timing(query: str, device: str, batch: int, warmup: int, repeats: int) -> Timing:
    return measure(parse_query(query), device, batch, warmup, repeats, result=cached_profile(query))


# -- URL-backed page controls ------------------------------------------------------------------
def _url_float(url_key: str, default: float, lo: float, hi: float) -> float:
    try:
        value = float(page_param(url_key, str(default)))
    except ValueError:
        return default
    return min(hi, max(lo, value))


def _store(key: str, url_key: str, default: float) -> None:
    value = st.session_state[key]
    set_page_param(url_key, None if value == default else f"{value:g}")


def url_slider(container, label: str, url_key: str, default: float, lo: float, hi: float, step: float, help: str):
    key = f"scaling.{url_key}"
    if key not in st.session_state:
        st.session_state[key] = _url_float(url_key, default, lo, hi)
    return container.slider(
        label, lo, hi, step=step, key=key, help=help, on_change=_store, args=(key, url_key, default)
    )


def _pin(query: str) -> None:
    pins = [c.query for c in parse_pins(page_param("pins"))]
    if query not in pins and len(pins) < MAX_PINS:
        set_page_param("pins", format_pins([parse_query(q) for q in [*pins, query]]))


def _unpin() -> None:
    kept = st.session_state["scaling.pinned"]
    set_page_param("pins", format_pins([parse_query(q) for q in kept]) or None)


# -- the Search tab: EfficientNet's grid search for alpha, beta, gamma -------------------------------
@st.cache_data(max_entries=32, show_spinner=False)
def cached_plan(spec: SearchSpec) -> list[GridPoint]:
    return plan(spec, _profiler)


def _apply_best(alpha: float, beta: float, gamma: float) -> None:
    """Put a search's best point on the what-if sliders (and in the URL), at phi = 1."""
    for name, value in (("phi", 1.0), ("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        url, default, *_ = RULE_KEYS[name]
        st.session_state[f"scaling.{url}"] = value
        set_page_param(url, None if value == default else f"{value:g}")


def _start_search(spec: SearchSpec, workers: int, device: str) -> None:
    job = SEARCH_JOB.get()
    if job is not None and job.running:
        return
    directory = search_directory(spec.key)
    SEARCH_JOB.set(BackgroundSearch(spec, directory, lambda: make_executor(workers, None, device)).start())
    set_page_param("search", spec.key)


def _cancel_search() -> None:
    job = SEARCH_JOB.get()
    if job is not None:
        job.cancel()


def _search_results(spec: SearchSpec, directory, can_apply: bool) -> None:
    """Progress, the plot, the verdict, the ranking and the table of the search in ``directory``."""
    points = cached_plan(spec)
    _, results = load_results(directory)
    job = SEARCH_JOB.get()
    running = job is not None and job.running and job.directory == directory
    done = sum(1 for p in points if p.key in {r.point.key for r in results})
    if running:
        st.progress(done / len(points), text=f"{done} of {len(points)} points trained ({job.spec.seeds} seeds each)")
        st.button("Cancel the search", key="scaling.search_cancel", on_click=_cancel_search)
    elif job is not None and job.directory == directory and job.error:
        st.error(f"The search stopped: {job.error}")
    elif done < len(points):
        st.caption(f"{done} of {len(points)} points trained; finished points are kept when it resumes.")
        st.button(
            "Resume the search",
            key="scaling.search_resume",
            on_click=_start_search,
            args=(spec, os.cpu_count() or 1, current_device()),
        )
    judged = verdict(results)
    ranked = ranking(results)
    best_key = judged.best.point.key if judged.best else None
    st.plotly_chart(accuracy_vs_macs(results, spec, points, best_key), key="scaling.search_plot")
    if done == len(points) and judged.best is not None:
        _, words = claim_in_words(judged, ranked)
        with st.container(border=True):  # the claim judged in a learner's words; the terse lines follow
            st.markdown(words)
    if judged.best is not None:
        (st.success if {c.outcome for c in judged.comparisons} == {"better"} else st.warning)(judged.sentence)
        b = judged.best.point
        st.button(
            f"Apply the best point to the what-if sliders (α={b.alpha:g}, β={b.beta:g}, γ={b.gamma:g}, phi=1)",
            key="scaling.search_apply",
            on_click=_apply_best,
            args=(b.alpha, b.beta, b.gamma),
            disabled=not can_apply,
            help=None
            if can_apply
            else "EfficientNet carries alpha, beta, gamma in its own keys: set them in the sidebar",
        )
    else:
        st.caption(judged.sentence)
    if ranked is not None and ranked.runner_up is not None:
        (st.info if ranked.separated and ranked.ranks else st.warning)(ranked.sentence())
    base = next((p for p in points if p.kind == "base"), None)
    st.dataframe(
        results_frame(results, base.macs if base else None),
        hide_index=True,
        column_config={
            "accuracy": st.column_config.NumberColumn(format="percent"),
            "± spread": st.column_config.NumberColumn(format="percent"),
        },
        key="scaling.search_table",
    )
    if results:
        st.plotly_chart(grid_space(results, spec), key="scaling.search_space")
    shapes = f"{'rotated' if spec.rotate else 'upright'} shapes" + (
        f" of radius {spec.scale[0]:g}-{spec.scale[1]:g} of half the side" if spec.scale else ""
    )
    st.caption(
        f"Each point: the base scaled at phi=1 by this page's rule, trained on {shapes} for {spec.steps} Adam steps "
        f"(lr {spec.lr:g}{', cosine decay' if spec.schedule == 'cosine' else ''}, batch {spec.batch}) "
        f"with seeds 0-{spec.seeds - 1} (the same data and initial draws for "
        f"every point), held-out accuracy on {spec.held_out} images of another seed; spread = standard deviation "
        "over seeds. Baselines scale "
        "one dimension to about 2 × the base's counted MACs. Results: "
        f"`{directory / 'results.jsonl'}`; this page's link reopens them."
    )


@st.fragment(run_every=1.0)
def _live_search(spec: SearchSpec, directory, can_apply: bool) -> None:
    _search_results(spec, directory, can_apply)
    job = SEARCH_JOB.get()
    if job is None or not job.running:
        st.rerun()  # finished or cancelled: the whole page, without the timer


def search_controls(base_query: str) -> tuple[SearchSpec | None, int]:
    """The grid and budget as a spec (None when the grid is not valid; the error is shown)."""
    columns = st.columns(3)
    texts = [
        columns[i].text_input(f"{name} grid", "1.0:1.4:0.1", key=f"scaling.search_{name}", help=help_text)
        for i, (name, help_text) in enumerate(
            (("alpha", "depth: START:STOP:STEP or a list"), ("beta", "width"), ("gamma", "resolution"))
        )
    ]
    columns = st.columns(4)
    tolerance = columns[0].number_input("Tolerance on α·β²·γ² − 2", 0.01, 1.0, 0.1, 0.01, key="scaling.search_tol")
    steps = columns[1].select_slider("Steps per run", [10, 20, 40, 60, 100, 200, 400], 60, key="scaling.search_steps")
    seeds = columns[2].select_slider("Seeds", [1, 2, 3, 4, 5], 2, key="scaling.search_seeds")
    cores = os.cpu_count() or 1
    workers = columns[3].number_input("Workers", 1, cores, cores, key="scaling.search_workers")
    try:
        spec = SearchSpec(
            query=base_query,
            alphas=parse_axis(texts[0], "alpha"),
            betas=parse_axis(texts[1], "beta"),
            gammas=parse_axis(texts[2], "gamma"),
            tolerance=tolerance,
            steps=steps,
            seeds=seeds,
        )
        cached_plan(spec)  # the grid's own errors (nothing within the tolerance, too many points)
    except (ValueError, ConfigError) as error:
        st.error(str(error))
        return None, workers
    return spec, int(workers)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def recorded_search(run: RecordedRun, can_apply: bool) -> None:
    """A recorded search, opened at once (its results are data); re-run live on request, with the
    time it took when recorded shown first."""
    card = run.card
    spec, results = load_results(run.path)
    if spec is None or sorted(r.point.key for r in results) != sorted(p["key"] for p in run.data["points"]):
        st.error(f"Recorded search {run.name}: its results.jsonl does not match its checksummed data.json")
        return
    st.markdown(
        f"**Recorded search: {run.title}.** Base `{spec.query}`, {spec.steps} steps, {spec.seeds} seeds; recorded on "
        f"{card['device']} ({card.get('executor', '')}) in {_minutes(card['wall_s'])}, torch {card['torch']}."
    )
    _search_results(spec, run.path, can_apply)
    with st.expander("How it was made"):
        st.code(card["command"], language="bash")
        st.caption(
            f"Created {card.get('created', '?')} · {card.get('device_name', '')} · load average then "
            f"{card.get('load', '?')} · data checksum `{card['checksum']}`"
        )
    workers = os.cpu_count() or 1
    estimate = card["wall_s"] * (2 / workers if card["device"] == "cpu" else 1)
    device = current_device()
    where = (
        f"about {_minutes(estimate)} on {workers} CPU workers here (it took {_minutes(card['wall_s'])} on 2)"
        if device == "cpu"
        else f"it took {_minutes(card['wall_s'])} on 2 CPU workers; far less on {device}"
    )
    st.caption(f"Re-running it live trains every point again: {where}. The results then open as a new search.")
    job = SEARCH_JOB.get()
    st.button(
        "Re-run this search live",
        key="scaling.search_rerun",
        on_click=_start_search,
        args=(spec, workers, device),
        disabled=job is not None and job.running,
    )


def search_tab_body(config, can_apply: bool) -> None:
    st.markdown(
        "EfficientNet's α, β, γ came from a small grid search at phi = 1 under α·β²·γ² ≈ 2. Here each grid "
        "point is trained briefly on shapes and compared with networks scaled in one dimension only at about "
        "the same MACs: the comparison the method rests on."
    )
    key = page_param("search")
    if key is None:
        stored, problems = recorded_runs(kind="search")
        for problem in problems:
            st.error(str(problem))
        if stored:
            recorded_search(stored[0], can_apply)
            st.divider()
            st.markdown("**Or set up a search of your own:**")
    if key is not None:
        try:
            directory = search_directory(key)
            spec, _ = load_results(directory)
        except ValueError as error:
            st.error(f"The link's search cannot be opened: {error}")
            spec = None
        if spec is not None:
            st.markdown(f"**Search `{key}`**: base `{spec.query}`, {spec.steps} steps, {spec.seeds} seeds.")
            job = SEARCH_JOB.get()
            if job is not None and job.running and job.directory == directory:
                _live_search(spec, directory, can_apply)
            else:
                _search_results(spec, directory, can_apply)
            st.button("New search", key="scaling.search_new", on_click=set_page_param, args=("search", None))
            return
        if key is not None:
            st.warning(f"No search `{key}` on this server (its results are gone): set one up below.")
    sidebar = rule_base(config).query
    base_query = st.radio(
        "Base network (phi = 0)",
        [SMALL_BASE, sidebar] if sidebar != SMALL_BASE else [SMALL_BASE],
        format_func=lambda q: f"small plain CNN: {q}" if q == SMALL_BASE else f"the sidebar's: {q}",
        key="scaling.search_base",
        help="every run trains a network of about this size; the sidebar's ImageNet-sized models take minutes a run",
    )
    spec, workers = search_controls(base_query)
    if spec is None:
        return
    points = cached_plan(spec)
    kinds = [p.kind for p in points]
    device = current_device()
    st.markdown(
        f"**{len(points)} networks** ({kinds.count('grid')} grid points, the base, "
        f"{len(points) - kinds.count('grid') - 1} single-dimension baselines) × {spec.seeds} seeds = "
        f"**{len(points) * spec.seeds} trainings** of {spec.steps} steps on {workers} worker"
        f"{'s' * (workers > 1)} ({device})."
    )
    job = SEARCH_JOB.get()
    busy = job is not None and job.running
    st.button(
        "Start the search",
        type="primary",
        key="scaling.search_start",
        on_click=_start_search,
        args=(spec, workers, device),
        disabled=busy,
        help="another search of this session is still running" if busy else None,
    )


# -- the page ---------------------------------------------------------------------------------
config = architecture_controls(page_keys=PAGE_KEYS)
own_rule = config.own_rule()  # EfficientNet carries phi, alpha, beta, gamma in its own keys
st.title("Scaling lab")
st.caption(
    "EfficientNet's compound rule: depth × alpha^phi, width × beta^phi, resolution × gamma^phi, with "
    "alpha·beta²·gamma² ≈ 2 so that MACs grow ≈ 2^phi. Counted cost is MACs at batch 1 and parameters; "
    "measured cost is time on this machine."
)

if own_rule is not None:
    rule, phi = own_rule
    design = config
    st.info(
        "phi, alpha, beta and gamma are EfficientNet's own keys: move them in the sidebar. "
        + (
            "This config overrides width_mult/depth_mult/resolution, so it sits off the rule's curve."
            if rule_config(config, rule, phi).config != config
            else f"The curve starts from B0 (phi=0); the design is phi={phi:g}."
        ),
        icon=":material/tune:",
    )
    notes: tuple[str, ...] = ()
else:
    columns = st.columns(4)
    values = {
        name: url_slider(columns[i], name, url, default, lo, hi, 0.05 if name != "phi" else 0.25, help=help_text)
        for i, ((name, (url, default, lo, hi)), help_text) in enumerate(
            zip(
                RULE_KEYS.items(),
                (
                    "compound coefficient",
                    "depth base: layers × alpha^phi",
                    "width base: channels × beta^phi",
                    "resolution base: side × gamma^phi",
                ),
                strict=True,
            )
        )
    }
    rule = Rule(values["alpha"], values["beta"], values["gamma"])
    phi = values["phi"]
    try:
        scaled = rule_config(config, rule, phi)
    except ConfigError as error:
        st.error(f"The rule cannot scale this config to phi={phi:g}: {error}")
        st.stop()
    design = scaled.config
    notes = scaled.notes
    st.caption(f"Base network (phi=0): the sidebar's **{config.query}**; design at phi={phi:g}: **{design.query}**")

max_phi = url_slider(
    st, "Curve up to phi", "max_phi", 4.0, 1.0, 8.0, 0.5, "the table and plots show phi = 0, 1, 2, ..."
)
design_profile = cached_profile(design.query)
with st.spinner("Scaling…"):
    points = cached_sweep(rule_base(config).query, rule, phi_values(max_phi, phi))
    published = cached_published(rule, getattr(config, "lite", False))  # a Lite design: Lite0-Lite4
nearest = nearest_published(design_profile, published)

headline = st.container(horizontal=True, gap="large")  # wraps: never cut on a projector
metric = partial(headline.metric, width="content")
metric(
    "alpha·beta²·gamma²",
    f"{rule.flops_ratio:.3f}",
    delta=f"{rule.deviation:+.3f} vs 2 ({rule.deviation / 2:+.1%})",
    delta_color="off",
    help="MACs factor per unit of phi; the paper constrains it to ≈ 2",
)
metric("Parameters", f"{design_profile.params:,}", help=design_profile.query)
metric("MACs", human_count(design_profile.macs), help=f"{design_profile.macs:,} at batch 1")
metric("Resolution", f"{design_profile.resolution} px")
metric(
    "Nearest published",
    nearest.name,
    delta=f"MACs ×{nearest.macs_ratio:.2f}, params ×{nearest.params_ratio:.2f}",
    delta_color="off",
    help="nearest of torchvision's B0-B7 in log parameters and log MACs",
)
reference_name = st.selectbox(
    "Compare the design with", [p.name for p in published], index=[p.name for p in published].index(nearest.name)
)
reference = next(p for p in published if p.name == reference_name)
st.markdown(
    f"**{design_profile.query}**: {human_count(design_profile.params)} parameters, "
    f"{human_count(design_profile.macs)} MACs at {design_profile.resolution} px, which is "
    f"**×{design_profile.params / reference.params:.2f} the parameters and ×{design_profile.macs / reference.macs:.2f} "
    f"the MACs of {reference.name}** ({human_count(reference.params)}, {human_count(reference.macs)} at "
    f"{reference.resolution} px; depth ×{reference.multipliers.depth:g}, width ×{reference.multipliers.width:g}, "
    f"nominal phi {reference.nominal_phi:.2f} under this rule)."
)
for note in notes:
    st.caption(note)

pins_error = None
try:
    pinned = parse_pins(page_param("pins"))
except ConfigError as error:
    pins_error, pinned = error, []

tabs = st.tabs(
    [
        "Scaling curve",
        "Rounding",
        "Published & accuracy",
        "MobileNet grid",
        "Measured cost",
        "Compare",
        "Search",
    ],
    key="scaling.tab",
    on_change="rerun",
)
curve_tab, rounding_tab, published_tab, grid_tab, latency_tab, compare_tab, search_tab = tabs

if curve_tab.open:
    with curve_tab:
        left, right = st.columns(2)
        left.plotly_chart(cost_vs_phi(points, published, "macs"), key="scaling.macs_phi")
        right.plotly_chart(
            cost_plane(points, published, current=(design_profile.query, design_profile.params, design_profile.macs)),
            key="scaling.plane",
        )
        table(
            sweep_frame(points),
            hide_index=True,
            column_config={
                "MACs / rule": st.column_config.NumberColumn(format="%.3f"),
                "depth x": st.column_config.NumberColumn(format="%.3f"),
                "width x": st.column_config.NumberColumn(format="%.3f"),
            },
            key="scaling.sweep_table",
        )
        left, right = st.columns(2)
        left.plotly_chart(stage_lines(points, "blocks"), key="scaling.blocks")
        right.plotly_chart(stage_lines(points, "channels"), key="scaling.channels")
        st.plotly_chart(cost_vs_phi(points, published, "params"), key="scaling.params_phi")
        with st.expander("Blocks and channels per stage, per phi"):
            table(stage_frame(points, "blocks"), hide_index=True)
            table(stage_frame(points, "channels"), hide_index=True)

if rounding_tab.open:
    with rounding_tab:
        if phi == 0:
            st.info("At phi=0 the design is the base network: nothing is scaled, so nothing is rounded.")
        else:
            with st.spinner("Building each multiplier alone…"):
                explanation = cached_explain(rule_base(config).query, rule, phi)
            st.markdown(
                f"At phi={phi:g} the built network has **{explanation.macs:,} MACs**; the rule predicts "
                f"{explanation.predicted_macs:,.0f}, so measured / rule = **{explanation.ratio:.3f}**. "
                "Each cause below is measured by building the phi=0 network with only that multiplier; "
                "the four ratios multiply to the total."
            )
            left, right = st.columns([2, 3])
            left.plotly_chart(factor_bars(explanation), key="scaling.factors")
            with right:
                for factor in explanation.factors:
                    st.markdown(f"**{factor.name}** ×{factor.ratio:.3f}: {factor.sentence}")
            table(factor_frame(explanation), hide_index=True)
            table(rounding_frame(explanation), hide_index=True, key="scaling.rounding_table")

if published_tab.open:
    with published_tab:
        st.markdown(
            "torchvision's B0-B7 use hand-picked (width, depth, resolution), not integer phi. *Nominal phi* is "
            "the phi at which this rule predicts the same MACs as a model's own multipliers."
        )
        table(
            published_frame(published, design_profile.params, design_profile.macs),
            hide_index=True,
            key="scaling.published_table",
        )
        which = published_weights_choice("scaling.weights")
        entries = published_accuracies(which)
        axis = st.radio(
            "Cost axis", ["params", "macs"], format_func={"params": "parameters", "macs": "MACs"}.get, horizontal=True
        )
        design_cost = design_profile.params if axis == "params" else design_profile.macs
        st.plotly_chart(
            accuracy_vs_cost(entries, axis, current=(design_profile.query, design_cost)), key="scaling.accuracy"
        )
        st.caption(
            "Accuracies are published figures (torchvision's weights metadata, ImageNet-1K validation, at each "
            "model's eval crop), read from the installed package. The current design has no published accuracy: "
            "it is placed on the cost axis only."
        )
        table(accuracy_frame(entries), hide_index=True)

if grid_tab.open:
    with grid_tab:
        with st.spinner("Profiling 16 MobileNets…"):
            cells = cached_grid()
        left, right = st.columns(2)
        left.plotly_chart(mobilenet_heatmap(cells, "macs"), key="scaling.grid_macs")
        right.plotly_chart(mobilenet_heatmap(cells, "params"), key="scaling.grid_params")
        st.caption(
            "MobileNetV1 (Howard et al., 2017): alpha thins every layer (cost ≈ alpha², parameters ≈ alpha²); "
            "the input side changes cost ≈ side² and leaves parameters alone. The paper's figures are from its "
            "Tables 6 and 7."
        )
        table(grid_frame(cells), hide_index=True)

if latency_tab.open:
    with latency_tab:
        device = current_device()
        st.markdown(
            "MACs do not predict time: depthwise convolutions are cheap in MACs and slow per MAC. Timing method: "
            "warm-up runs, then each timed run on its own (device synchronised on GPU), median reported; peak "
            "memory from a separate untimed run. Every model is checked against the memory budget first."
        )
        limit = st.number_input(
            "Largest preset to time (GMACs)", 0.1, 50.0, 2.0 if device == "cpu" else 40.0, 0.5, key="scaling.limit"
        )
        choices = timeable_presets(limit * 1e9, _profiler)
        chosen = st.multiselect(
            "Presets", choices, default=[p for p in DEFAULT_TIMED_PRESETS if p in choices], key="scaling.presets"
        )
        columns = st.columns(3)
        big_batch = columns[0].select_slider("Larger batch", [2, 4, 8, 16, 32], value=4, key="scaling.batch")
        repeats = columns[1].select_slider("Timed runs", [3, 5, 10, 20], value=5, key="scaling.repeats")
        warmup = columns[2].select_slider("Warm-up runs", [1, 2, 3, 5], value=2, key="scaling.warmup")
        jobs = timing_jobs(chosen, design_profile, limit * 1e9, (1, big_batch))
        if st.button(f"Measure {len(jobs)} runs on {device}", type="primary", key="scaling.measure"):
            done: list[tuple[str, int]] = []
            with slow_work("Measuring"), st.status("Measuring…", expanded=True) as status:
                bar = st.progress(0.0)
                for i, (query, batch) in enumerate(jobs):
                    bar.progress(i / len(jobs), text=f"{query} at batch {batch}")
                    try:
                        cached_timing(query, device, batch, warmup, repeats)
                        done.append((query, batch))
                    except (ValueError, RuntimeError) as error:
                        st.warning(f"{query} at batch {batch}: {error}")
                bar.progress(1.0, text="done")
                status.update(label=f"Measured {len(done)} runs", state="complete", expanded=False)
            MEASURED_TIMINGS.set(MeasuredTimings(device, warmup, repeats, tuple(done)))
        measured = MEASURED_TIMINGS.get()
        if measured and measured.runs:
            timings = [
                cached_timing(q, measured.device, b, measured.warmup, measured.repeats) for q, b in measured.runs
            ]
            st.plotly_chart(latency_vs_macs(timings), key="scaling.latency")
            table(
                timing_frame(timings),
                hide_index=True,
                column_config={
                    c: st.column_config.NumberColumn(format="%.2f")
                    for c in ("median ms", "min ms", "images/s", "ns per MAC", "GMAC/s", "peak memory MB")
                },
                key="scaling.timing_table",
            )
            st.caption(cost_per_mac_summary(timings))
        else:
            st.caption("Nothing measured yet: the button runs real models on this device.")

if compare_tab.open:
    with compare_tab:
        if pins_error is not None:
            st.error(f"The link's pinned configs are not valid: {pins_error}")
        pinned_queries = [c.query for c in pinned]
        st.button(
            f"Pin the design ({design_profile.query})",
            key="scaling.pin",
            on_click=_pin,
            args=(design_profile.query,),
            disabled=design_profile.query in pinned_queries or len(pinned) >= MAX_PINS,
            help=f"up to {MAX_PINS}; the pins are part of this page's link",
        )
        st.session_state["scaling.pinned"] = pinned_queries
        st.multiselect("Pinned (remove one to unpin it)", pinned_queries, key="scaling.pinned", on_change=_unpin)
        if pinned:
            rows = compare(pinned, _profiler)
            table(compare_frame(rows), hide_index=True, key="scaling.compare_table")
            what = st.radio(
                "Per stage", ["macs", "params", "channels", "blocks"], horizontal=True, key="scaling.compare_what"
            )
            left, right = st.columns(2)
            left.plotly_chart(compare_stages(rows, what), key="scaling.compare_stages")
            pin_costs = [(r.query, r.params, r.macs) for r in (cached_profile(q) for q in pinned_queries)]
            right.plotly_chart(
                cost_plane(
                    points, published, (design_profile.query, design_profile.params, design_profile.macs), pin_costs
                ),
                key="scaling.compare_plane",
            )
        else:
            st.caption("Nothing pinned yet: pin the design, change the sliders, pin again.")

if search_tab.open:
    with search_tab:
        search_tab_body(config, can_apply=own_rule is None)
