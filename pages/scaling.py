"""Scaling lab: EfficientNet's compound rule (and MobileNet's multipliers) as what-if sliders; counted
cost against the rule's prediction and the published models; measured cost beside counted cost.
The parts live in ``pages/_scaling/``."""

import streamlit as st

from explorer.analysis.scaling import parse_pins
from explorer.knobs import ConfigError
from pages._scaling.design import design_controls, headline
from pages._scaling.measured import compare_tab, latency_tab
from pages._scaling.search import search_tab
from pages._scaling.state import PAGE_KEYS, W
from pages._scaling.tabs import curve_tab, grid_tab, published_tab, rounding_tab
from pages._shared.architecture import architecture_controls, page_param

config = architecture_controls(page_keys=PAGE_KEYS)
st.title("Scaling lab")
st.caption(
    "EfficientNet's compound rule: depth × alpha^phi, width × beta^phi, resolution × gamma^phi, with "
    "alpha·beta²·gamma² ≈ 2 so that MACs grow ≈ 2^phi. Counted cost is MACs at batch 1 and parameters; "
    "measured cost is time on this machine."
)
design = design_controls(config)
headline(design)

pins_error = None
try:
    pinned = parse_pins(page_param("pins"))
except ConfigError as error:
    pins_error, pinned = error, []

tabs = (
    ("Scaling curve", lambda: curve_tab(design)),
    ("Rounding", lambda: rounding_tab(design)),
    ("Published & accuracy", lambda: published_tab(design)),
    ("MobileNet grid", grid_tab),
    ("Measured cost", lambda: latency_tab(design)),
    ("Compare", lambda: compare_tab(design, pinned, pins_error)),
    ("Search", lambda: search_tab(config, can_apply=design.sliders)),
)
for tab, (_, draw) in zip(st.tabs([name for name, _ in tabs], key=W.tab.key, on_change="rerun"), tabs, strict=True):
    if tab.open:  # only the open tab computes
        with tab:
            draw()
