"""Build: pick a family and move its sliders; see the parameters, the work and where they go."""

from functools import partial

import streamlit as st

from explorer.formatting import human_bytes, human_count
from explorer.views.graph import overview_figure
from explorer.views.memory import memory_by_stage, memory_rows
from explorer.views.profile import group_bar, hierarchy
from explorer.views.tables import group_frame, layer_frame
from pages._shared.architecture import architecture_controls
from pages._shared.caches import cached_graph, cached_profile, cached_summary
from pages._shared.device import memory_note, torch_imported
from pages._shared.export import export_tab
from pages._shared.memory import BATCHES, cached_training_memory
from pages._shared.state import PREVIOUS_PROFILE
from pages._shared.tables import table

config = architecture_controls()
result = cached_profile(config.query)
previous = PREVIOUS_PROFILE.get()
if previous is None or previous.query != result.query:
    PREVIOUS_PROFILE.set(result)
    previous = previous or result

st.title(f"{config.title}: {config.query}")
st.caption(
    "Every view is a link: this page's URL holds the configuration. MACs are multiply-adds at batch 1 "
    "(convolutions, linear layers and deformable sampling; BN, activations and pooling count zero)."
)
if config.family == "blocks":  # the composer: its blocks as an editable table
    from pages._shared.composer import block_editor  # here: it imports pandas (0.45 s on a fresh server)

    with st.expander("Block editor", expanded=True):
        block_editor(config)  # type: ignore[arg-type]  # family "blocks": a BlocksConfig
flops = st.toggle("Show FLOPs (2 × MACs) instead of MACs", key="build.flops")
work_label, work = ("FLOPs", result.flops) if flops else ("MACs", result.macs)
previous_work = previous.flops if flops else previous.macs

batch = st.select_slider(
    "Batch size (for the memory figures)", BATCHES, value=1, key="build.batch",
    help="Inference activations and training memory scale with the batch; weights do not",
)
try:
    training, training_error = cached_training_memory(config.query, batch), ""
except ValueError as error:
    training, training_error = None, str(error)  # type: ignore[assignment]  # shown as the error instead
# A row that wraps (each number as wide as it needs): never cut on a 1280x720 projector or a laptop.
headline = st.container(horizontal=True, gap="large")
metric = partial(headline.metric, width="content")
param_change = result.params - previous.params
metric(
    "Parameters",
    f"{result.params:,}",
    delta=f"{param_change:+,}" if param_change else None,
    help="Sum of every parameter tensor's elements",
)
metric(
    work_label,
    human_count(work),
    delta=human_count(work - previous_work) if work != previous_work else None,
    help=f"{work:,} at batch 1",
)
metric("Weights", human_bytes(result.weight_bytes), help="float32, 4 bytes per parameter")
metric(
    f"Activations (batch {batch})",
    human_bytes(result.activation_bytes * batch),
    help=f"Bytes of all layer outputs of one forward pass at batch {batch} (float32): inference",
)
metric(
    f"Training memory (batch {training.batch if training else batch})",
    human_bytes(training.saved_bytes) if training else "n/a",
    help=(training.note if training else training_error)
    or "Bytes autograd saves for the backward pass of one training step (float32, each storage once, "
    "weights not included), counted on the meta device",
)
metric(
    "Input",
    f"{result.resolution}×{result.resolution}×{result.in_channels}",
    help=f"{max((r.depth or 0) for r in result.layers)} conv/linear layers",
)
fit_slot = st.empty()  # filled last: the device's memory budget needs torch, the numbers above do not

metric_names = {
    "params": "Parameters",
    ("flops" if flops else "macs"): work_label,
    "activation_bytes": "Activation memory",
}
breakdown, layers, memory, graph, summary, export = st.tabs(
    ["Breakdown", "Layers", "Memory", "Layer graph", "torchinfo summary", "Export"], key="build.tab", on_change="rerun"
)
if breakdown.open:
    with breakdown:
        measure = st.radio(
            "Measure", list(metric_names), format_func=metric_names.__getitem__, horizontal=True, key="build.metric"
        )
        left, right = st.columns(2)
        left.plotly_chart(group_bar(result.grouped("stage"), "stage", measure), key="build.by_stage")
        right.plotly_chart(group_bar(result.grouped("type"), "type", measure), key="build.by_type")
        shape = st.radio("Hierarchy as", ["treemap", "sunburst"], horizontal=True, key="build.shape")
        st.plotly_chart(hierarchy(result, measure, shape), key="build.hierarchy")
        table(group_frame(result, "stage", flops), hide_index=True)
if layers.open:
    with layers:
        rows = layer_frame(result, flops)
        table(rows, hide_index=True, height=480)
        st.download_button("Download layers as CSV", rows.to_csv(index=False), file_name="layers.csv", mime="text/csv")
if memory.open:
    with memory:
        if training is None:
            st.info(training_error)
        else:
            st.plotly_chart(memory_by_stage(result, training), key="build.memory")
            table(memory_rows(training), hide_index=True, height=360)
if graph.open:
    with graph, st.spinner("Tracing the model…"):
        st.caption("Folded to a readable size; the Graph page folds, unfolds, compares and exports.")
        st.plotly_chart(overview_figure(cached_graph(config.query), metric="params", budget=60), key="build.graph")
if summary.open:
    with summary, st.spinner("Summarising…"):
        st.code(cached_summary(config.query), language=None)
if export.open:
    with export:
        export_tab(config, result)
if torch_imported():  # a fresh process's first page: drawn again, with the note, once torch is in
    fits, note = memory_note(result)
    (fit_slot.caption if fits else fit_slot.warning)(note)
