"""A server's long-lived objects kept out of Python's full garbage collections.

Python's cyclic collector walks every tracked object at each generation-2 collection. A server that
has imported torch, torchvision, plotly and Streamlit holds over 300,000 of them, nearly all of which
live as long as the process (modules, functions, classes), so each full collection took about 0.2 s
of the GIL, stalling every session's script at once; the meta-device counts of a new config allocate
enough objects to trigger one every dozen configs or so (``bench/README.md``, "A class on one
server"). :func:`freeze_imports` moves what exists once the heavy imports are done into the
permanent generation (:func:`gc.freeze`): those objects are still freed by reference counting, only
the cyclic collector stops walking them; later objects are collected as before.
"""

from __future__ import annotations

import gc
import importlib
import threading

__all__ = ["HEAVY_MODULES", "freeze_imports"]

#: The libraries a page run needs sooner or later, imported before the freeze so their objects are in it.
HEAVY_MODULES = ("torch", "torchvision", "plotly.graph_objects", "pandas")

_lock = threading.Lock()
_frozen: int | None = None


def freeze_imports() -> int:
    """Import :data:`HEAVY_MODULES`, collect once and freeze every object that then exists; once
    per process (later calls return at once). Returns the number of objects frozen then."""
    global _frozen
    with _lock:
        if _frozen is None:
            for name in HEAVY_MODULES:
                importlib.import_module(name)
            gc.collect()
            gc.freeze()
            _frozen = gc.get_freeze_count()
        return _frozen
