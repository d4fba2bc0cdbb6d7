"""The device picker in the sidebar, the one lookup of the chosen device, and device-related widgets."""

from __future__ import annotations

import time

import streamlit as st

from explorer.measure.profile_data import Profile
from explorer.runtime.warm import imports_ready, module_whole, start_warm_up

# The device modules import torch (about 3 s of one core): imported where a function needs them, so
# that the app's first page can draw before torch is imported (see ``app.py``).

#: The session's device choice, kept under a key of its own: a widget's state is dropped on a run
#: that does not draw the widget (a page rendered alone, as AppTest's later runs are).
DEVICE_CHOICE = "device_choice"


def torch_imported() -> bool:
    """Whether this process has imported torch whole yet (it has, after its first page's warm-up).

    Not merely ``"torch" in sys.modules``: the warm-up imports torch in a thread of its own, and a
    module is listed there from the start of its import (see :mod:`explorer.runtime.warm`)."""
    return imports_ready() or module_whole("torch")


#: When a fresh process's first page drew the picker's place, and when that page was done.
_PENDING_SINCE = "device.pending_since"
_PAGE_DONE_AT = "device.page_done_at"
#: Seconds the finished page gets to reach the browser and be drawn there (its charts too: the browser
#: fetches plotly.js from this server) before torch is imported (the import holds the GIL and a core
#: for seconds); a page that stopped early gets the longer wait.
DRAW_GRACE_S = 2.0
STOPPED_PAGE_GRACE_S = 3.0


@st.fragment(run_every=0.5)
def device_pending() -> None:
    """The device picker's place on a fresh process's first page, drawn before torch is imported.

    The picker needs torch (about 3 s of one core to import), the Build page's first view does not
    (the presets' profiles are stored), so the page is drawn first. The process's warm-up
    (:mod:`explorer.runtime.warm`: torch, the model families, the library, one model) starts once a
    page has had :data:`DRAW_GRACE_S` to reach the browser and be drawn (its charts too: the browser
    fetches plotly.js from this server), or sooner where a worker asked for it at start; the browser's
    timer reruns this fragment until the warm-up's imports are done, then it reruns the app, which
    draws the real picker (and the Build page's fit note)."""
    now = time.monotonic()
    since = st.session_state.setdefault(_PENDING_SINCE, now)
    done = st.session_state.get(_PAGE_DONE_AT)
    waited = now - done >= DRAW_GRACE_S if done is not None else now - since >= STOPPED_PAGE_GRACE_S
    if waited or module_whole("torch"):  # the page itself may have imported torch (a config not stored)
        start_warm_up()
    if not imports_ready():
        st.caption("Device: starting PyTorch…")
        return
    st.rerun()


def page_done() -> None:
    """Called by the router after a page ran to its end: a fresh process (torch not imported yet)
    warms up once this page has had time to be drawn in the browser (see :func:`device_pending`)."""
    if not torch_imported():
        start_warm_up(after_s=DRAW_GRACE_S)
        st.session_state[_PAGE_DONE_AT] = time.monotonic()


def _chosen_device() -> str:
    from explorer.runtime.device import available_devices

    choice = st.session_state.get(DEVICE_CHOICE, "auto")
    return choice if choice in ("auto", *available_devices()) else "auto"


def device_sidebar() -> str:
    """The device picker in the sidebar; returns the chosen device name (auto resolves)."""
    from explorer.runtime.device import available_devices, best_device, describe
    from explorer.runtime.heap import freeze_imports
    from explorer.runtime.threads import apply_thread_policy

    apply_thread_policy()  # once per process: the server's thread policy (explorer.runtime.threads)
    freeze_imports()  # full garbage collections skip what the heavy imports made (explorer.runtime.heap)
    choices = ["auto", *available_devices()]
    choice = st.sidebar.selectbox(
        "Device",
        choices,
        index=choices.index(_chosen_device()),
        key="device",
        help="auto: CUDA, then Apple MPS, then CPU",
    )
    st.session_state[DEVICE_CHOICE] = choice
    device = best_device(choice)
    st.sidebar.caption(f"Models run on **{describe(device)}**")
    return device.type


def current_device() -> str:
    """The device the sidebar's picker resolves to (``cpu``, ``cuda`` or ``mps``): the one lookup."""
    from explorer.runtime.device import best_device

    return best_device(_chosen_device()).type


def bf16_toggle(prefix: str) -> bool:
    """Train under bfloat16 autocast? Off by default: training then computes in full float32."""
    return st.toggle(
        "bf16 autocast",
        value=False,
        key=f"{prefix}.bf16",
        help="Training only: bfloat16 autocast is faster on recent GPUs, and its numbers differ slightly between "
        "devices. Off: full float32 (TF32 off), the same numbers on every device.",
    )


def memory_note(result: Profile) -> tuple[bool, str]:
    """Whether a forward pass fits the chosen device's budget, and a sentence saying so."""
    from explorer.runtime.device import best_device
    from explorer.runtime.guard import fit_note

    return fit_note(result, best_device(current_device()))
