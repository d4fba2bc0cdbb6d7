"""Signal flow: activation std and gradient norm against depth, live; overlay variants; train and watch.
The parts live in ``pages/_signal/``."""

from __future__ import annotations

import streamlit as st

from pages._shared.architecture import architecture_controls
from pages._shared.device import current_device
from pages._signal.probe import experiment_button, measure_curves, pin_controls, probe_controls, show_curves
from pages._signal.training import training_section

config = architecture_controls()
device = current_device()

st.title("Signal flow")
st.caption(
    "For every conv/linear layer, in depth order: the standard deviation of its output over a small batch of "
    "generated shapes images, and the norm of the gradient of the loss with respect to that output. Without "
    "skip connections both shrink (or explode) layer by layer; with them, the +I term is a gradient highway."
)
experiment_button(config)
with st.expander("Probe and comparison", expanded=True):
    probe = probe_controls(config)
    pins = pin_controls(config)
results, elapsed = measure_curves(config, probe, pins, device)
show_curves(results, probe.metrics, elapsed)
training_section(config, device, probe.resolution, probe.seed)
