"""The Scaling lab's measured tabs: time on this device, and pinned designs side by side."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.latency import DEFAULT_TIMED_PRESETS, cost_per_mac_summary, timeable_presets, timing_jobs
from explorer.analysis.scaling import MAX_PINS, compare
from explorer.knobs import ModelConfig
from explorer.views.scaling import compare_stages, cost_plane, latency_vs_macs
from explorer.views.scaling_tables import compare_frame, timing_frame
from pages._scaling.analyses import cached_timing, profiler
from pages._scaling.design import Design
from pages._scaling.state import W, pin, unpin
from pages._shared.caches import cached_profile
from pages._shared.device import current_device
from pages._shared.queue import slow_work
from pages._shared.state import MEASURED_TIMINGS, MeasuredTimings
from pages._shared.tables import table

TIMING_COLUMNS = ("median ms", "min ms", "images/s", "ns per MAC", "GMAC/s", "peak memory MB")


def latency_tab(design: Design) -> None:
    device = current_device()
    st.markdown(
        "MACs do not predict time: depthwise convolutions are cheap in MACs and slow per MAC. Timing method: "
        "warm-up runs, then each timed run on its own (device synchronised on GPU), median reported; peak "
        "memory from a separate untimed run. Every model is checked against the memory budget first."
    )
    limit = st.number_input(
        "Largest preset to time (GMACs)", 0.1, 50.0, 2.0 if device == "cpu" else 40.0, 0.5, key=W.limit.key
    )
    choices = timeable_presets(limit * 1e9, profiler)
    default = [p for p in DEFAULT_TIMED_PRESETS if p in choices]
    chosen = st.multiselect("Presets", choices, default=default, key=W.presets.key)
    columns = st.columns(3)
    big_batch = columns[0].select_slider("Larger batch", [2, 4, 8, 16, 32], value=4, key=W.batch.key)
    repeats = columns[1].select_slider("Timed runs", [3, 5, 10, 20], value=5, key=W.repeats.key)
    warmup = columns[2].select_slider("Warm-up runs", [1, 2, 3, 5], value=2, key=W.warmup.key)
    jobs = timing_jobs(chosen, design.profile, limit * 1e9, (1, big_batch))
    if st.button(f"Measure {len(jobs)} runs on {device}", type="primary", key=W.measure.key):
        measure_all(jobs, device, warmup, repeats)
    measured = MEASURED_TIMINGS.get()
    if not (measured and measured.runs):
        st.caption("Nothing measured yet: the button runs real models on this device.")
        return
    timings = [cached_timing(q, measured.device, b, measured.warmup, measured.repeats) for q, b in measured.runs]
    st.plotly_chart(latency_vs_macs(timings), key=W.latency.key)
    column_config = {c: st.column_config.NumberColumn(format="%.2f") for c in TIMING_COLUMNS}
    table(timing_frame(timings), hide_index=True, column_config=column_config, key=W.timing_table.key)
    st.caption(cost_per_mac_summary(timings))


def measure_all(jobs: list[tuple[str, int]], device: str, warmup: int, repeats: int) -> None:
    """Time every (query, batch) job with a progress bar; keep the ones that ran for the session."""
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


def compare_tab(design: Design, pinned: list[ModelConfig], pins_error: Exception | None) -> None:
    if pins_error is not None:
        st.error(f"The link's pinned configs are not valid: {pins_error}")
    query = design.profile.query
    queries = [c.query for c in pinned]
    st.button(
        f"Pin the design ({query})",
        key=W.pin.key,
        on_click=pin,
        args=(query,),
        disabled=query in queries or len(pinned) >= MAX_PINS,
        help=f"up to {MAX_PINS}; the pins are part of this page's link",
    )
    W.pinned.set(queries)
    st.multiselect("Pinned (remove one to unpin it)", queries, key=W.pinned.key, on_change=unpin)
    if not pinned:
        st.caption("Nothing pinned yet: pin the design, change the sliders, pin again.")
        return
    rows = compare(pinned, profiler)
    table(compare_frame(rows), hide_index=True, key=W.compare_table.key)
    what = st.radio("Per stage", ["macs", "params", "channels", "blocks"], horizontal=True, key=W.compare_what.key)
    left, right = st.columns(2)
    left.plotly_chart(compare_stages(rows, what), key=W.compare_stages.key)
    pin_costs = [(r.query, r.params, r.macs) for r in (cached_profile(q) for q in queries)]
    right.plotly_chart(cost_plane(design.points, design.published, design.cost, pin_costs), key=W.compare_plane.key)
