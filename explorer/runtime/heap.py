"""A server's long-lived objects kept out of Python's full garbage collections.

Python's cyclic collector walks every tracked object at each generation-2 collection. A server that
has imported torch, torchvision, plotly and Streamlit holds about 400,000 of them, nearly all of which
live as long as the process (modules, functions, classes), so each full collection took about 0.2 s
of the GIL, stalling every session's script at once; the meta-device counts of a new config allocate
enough objects to trigger one every dozen configs or so (``bench/README.md``, "A class on one
server"). :func:`freeze_imports`, called on every page run, moves what exists into the permanent
generation (:func:`gc.freeze`, a constant-time splice) each time one of the heavy libraries has
arrived since the last call: their objects are still freed by reference counting, only the cyclic
collector stops walking them; later objects are collected as before. It imports nothing and does not
collect first (each would hold the GIL for a second or more while a class is using the server; what
cyclic garbage exists at those few moments stays, a bounded cost).
"""

from __future__ import annotations

import gc
import sys
import threading

__all__ = ["HEAVY_MODULES", "freeze_imports"]

#: The libraries whose objects make full collections slow (torchvision alone adds 150,000).
HEAVY_MODULES = ("torch", "torchvision", "plotly.graph_objects", "pandas")

_lock = threading.Lock()
_arrived: set[str] = set()


def freeze_imports() -> bool:
    """Freeze every tracked object if one of :data:`HEAVY_MODULES` has been imported since the last
    freeze (at most once per library and process); True when it froze."""
    with _lock:
        new = {name for name in HEAVY_MODULES if name in sys.modules} - _arrived
        if new:
            gc.freeze()
            _arrived.update(new)
        return bool(new)
