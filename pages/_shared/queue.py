"""Slow work (training, measuring) through the server's one bounded queue, with the student's
place in the line shown while they wait (explorer.runtime.workqueue.SLOW_WORK)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from explorer.runtime.workqueue import SLOW_WORK


@contextmanager
def slow_work(what: str) -> Iterator[None]:
    """Run the ``with`` body in one of the server's slow-work slots; say where the user is in line."""
    notice = st.empty()

    def waiting(position: int) -> None:
        ahead = "you are next" if position == 1 else f"you are number {position} in the queue"
        notice.info(
            f"{what} waits for a free slot ({SLOW_WORK.running} of {SLOW_WORK.slots} busy): {ahead}.",
            icon=":material/hourglass_top:",
        )

    with SLOW_WORK.slot(on_wait=waiting):
        notice.empty()
        yield
