"""History: the material's timeline from AlexNet to EfficientNet, live, and where a design sits."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.history import timeline
from explorer.analysis.published import published_accuracies
from explorer.views.history import timeline_frame
from explorer.views.scaling import accuracy_vs_cost
from pages._shared.architecture import architecture_controls
from pages._shared.caches import cached_profile
from pages._shared.inputs import published_weights_choice
from pages._shared.tables import table


@st.cache_data(show_spinner=False)
def cached_timeline():
    return timeline(lambda config: cached_profile(config.query))


config = architecture_controls()
st.title("History of CNN design")
st.caption(
    "From AlexNet (2012) to EfficientNet (2019) and the hybrid that ends the material. Parameters and MACs are "
    "measured here, from the real modules; top-1 is the published ImageNet-1K figure of the original recipe "
    "(torchvision's IMAGENET1K_V1 weights; MobileNet V1 from its paper). Each row opens in Build or Graph."
)
rows = cached_timeline()
table(
    timeline_frame(rows),
    hide_index=True,
    column_config={
        "build": st.column_config.LinkColumn("open in Build", display_text="Build"),
        "graph": st.column_config.LinkColumn("open in Graph", display_text="Graph"),
        "top-1 (%)": st.column_config.NumberColumn(format="%.1f"),
    },
    key="history.timeline",
)

design = cached_profile(config.query)
st.subheader("Accuracy against cost, and your design")
which = published_weights_choice("history.weights")
entries = published_accuracies(which)
left, right = st.columns(2)
left.plotly_chart(accuracy_vs_cost(entries, "params", current=(design.query, design.params)), key="history.params")
right.plotly_chart(accuracy_vs_cost(entries, "macs", current=(design.query, design.macs)), key="history.macs")
st.caption(
    f"The dashed line is the current design, `{design.query}`: {design.params:,} parameters, "
    f"{design.macs / 1e9:.2f} G MACs. It has no published accuracy (nothing here trains on ImageNet), so it is "
    "placed on the cost axis only; move the sidebar's sliders to move it."
)
