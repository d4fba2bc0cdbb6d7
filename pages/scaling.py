"""Scaling lab: EfficientNet's compound rule (and MobileNet's multipliers) as what-if sliders; counted
cost against the rule's prediction and the published models; measured cost beside counted cost."""

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
from pages._shared.architecture import architecture_controls, page_param, set_page_param
from pages._shared.caches import cached_profile
from pages._shared.device import current_device
from pages._shared.state import MEASURED_TIMINGS, MeasuredTimings

#: The what-if sliders: URL key, default and range (the rule's constants: explorer.compound).
RULE_KEYS = {
    "phi": ("scale_phi", 1.0, *PHI_RANGE),
    "alpha": ("scale_alpha", PAPER_ALPHA, *COEFFICIENT_RANGE),
    "beta": ("scale_beta", PAPER_BETA, *COEFFICIENT_RANGE),
    "gamma": ("scale_gamma", PAPER_GAMMA, *COEFFICIENT_RANGE),
}
PAGE_KEYS = ("pins", "max_phi", *(url for url, *_ in RULE_KEYS.values()))


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
def cached_published(rule: Rule) -> list[PublishedPoint]:
    return published_efficientnets(rule, _profiler)


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
    published = cached_published(rule)
nearest = nearest_published(design_profile, published)

columns = st.columns(5)
columns[0].metric(
    "alpha·beta²·gamma²",
    f"{rule.flops_ratio:.3f}",
    delta=f"{rule.deviation:+.3f} vs 2 ({rule.deviation / 2:+.1%})",
    delta_color="off",
    help="MACs factor per unit of phi; the paper constrains it to ≈ 2",
)
columns[1].metric("Parameters", f"{design_profile.params:,}", help=design_profile.query)
columns[2].metric("MACs", human_count(design_profile.macs), help=f"{design_profile.macs:,} at batch 1")
columns[3].metric("Resolution", f"{design_profile.resolution} px")
columns[4].metric(
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
    ],
    key="scaling.tab",
    on_change="rerun",
)
curve_tab, rounding_tab, published_tab, grid_tab, latency_tab, compare_tab = tabs

if curve_tab.open:
    with curve_tab:
        left, right = st.columns(2)
        left.plotly_chart(cost_vs_phi(points, published, "macs"), key="scaling.macs_phi")
        right.plotly_chart(
            cost_plane(points, published, current=(design_profile.query, design_profile.params, design_profile.macs)),
            key="scaling.plane",
        )
        st.dataframe(
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
            st.dataframe(stage_frame(points, "blocks"), hide_index=True)
            st.dataframe(stage_frame(points, "channels"), hide_index=True)

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
            st.dataframe(factor_frame(explanation), hide_index=True)
            st.dataframe(rounding_frame(explanation), hide_index=True, key="scaling.rounding_table")

if published_tab.open:
    with published_tab:
        st.markdown(
            "torchvision's B0-B7 use hand-picked (width, depth, resolution), not integer phi. *Nominal phi* is "
            "the phi at which this rule predicts the same MACs as a model's own multipliers."
        )
        st.dataframe(
            published_frame(published, design_profile.params, design_profile.macs),
            hide_index=True,
            key="scaling.published_table",
        )
        which = st.radio(
            "Weights",
            ["v1", "default"],
            format_func={"v1": "original recipe (IMAGENET1K_V1)", "default": "torchvision's best (DEFAULT)"}.get,
            horizontal=True,
            key="scaling.weights",
        )
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
        st.dataframe(accuracy_frame(entries), hide_index=True)

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
        st.dataframe(grid_frame(cells), hide_index=True)

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
            with st.status("Measuring…", expanded=True) as status:
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
            st.dataframe(
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
            st.dataframe(compare_frame(rows), hide_index=True, key="scaling.compare_table")
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
