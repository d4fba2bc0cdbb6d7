"""Give freed memory back to the operating system, so a server's memory returns to its level after a
burst of large, short-lived buffers (uploads of hundreds of MB).

CPython frees a large ``bytes`` object at once, but an upload arrives in many smaller pieces that
glibc's allocator keeps in its heaps after they are freed (measured: 6 uploads of 200 MB left the
server 1 GB above its level 10 s later). ``malloc_trim(0)`` returns those free pages; it is glibc's
own call, made through ctypes (no package wraps it), and a no-op elsewhere.

A server also keeps what its computations freed: a photo's map (decoding, the model's activations,
the overlay) leaves freed pages in the heap that the next map does not always reuse. One process
explaining 14 photos in turn held 892 MB without a trim and 809 MB with one after each (the heap's free
pages, 83 MB); a trim of that heap takes about 6 ms. :func:`keep_heap_trimmed` therefore trims a
server's heap every :data:`TRIM_EVERY_S` seconds in a thread of its own (ctypes lets the GIL go during
the call, and it does not collect garbage, which would hold the GIL for 0.1 s or more).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import math
import os
import sys
import threading
from collections.abc import Callable
from functools import cache

__all__ = ["TRIM_EVERY_S", "TRIM_SETTING", "keep_heap_trimmed", "release_free_memory", "trim_period", "trim_until"]

#: Seconds between two trims of a server's heap by :func:`keep_heap_trimmed`; the environment's
#: ``EXPLORER_HEAP_TRIM_S`` wins (``0``: never, as ``bench/bench_soak.py --no-trim`` runs a class to compare).
TRIM_EVERY_S = 10.0
TRIM_SETTING = "EXPLORER_HEAP_TRIM_S"

_trimmer_lock = threading.Lock()
_trimmer: threading.Thread | None = None


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]  # private in typeshed
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    function = getattr(ctypes.CDLL(name), "malloc_trim", None)  # glibc only
    if function is not None:
        function.argtypes, function.restype = [ctypes.c_size_t], ctypes.c_int
    return function


def release_free_memory() -> bool:
    """Collect garbage and return the allocator's free pages to the OS; whether anything could do so."""
    gc.collect()
    trim = _malloc_trim()
    return bool(trim is not None and trim(0))


def trim_until(stop: threading.Event, every_s: float, trim: Callable[[int], object]) -> None:
    """Call ``trim(0)`` every ``every_s`` seconds until ``stop`` is set (the trimmer's loop)."""
    while not stop.wait(every_s):
        trim(0)


def trim_period() -> float:
    """Seconds between two trims: :data:`TRIM_SETTING` from the environment, else :data:`TRIM_EVERY_S`."""
    text = os.environ.get(TRIM_SETTING, "").strip()
    try:
        value = float(text) if text else TRIM_EVERY_S
        return value if math.isfinite(value) and value > 0 else 0.0  # 0, negative or inf: never
    except ValueError:  # a server setting: said in the server's log, never on a student's page
        line = f"[explorer] {TRIM_SETTING}={text!r} is not a number of seconds; trimming every {TRIM_EVERY_S:g} s"
        sys.stderr.write(line + "\n")
        return TRIM_EVERY_S


def keep_heap_trimmed(every_s: float | None = None) -> bool:
    """Trim this process's heap every ``every_s`` seconds (default :func:`trim_period`) from now on, in
    a daemon thread started once per process (later calls return at once); whether a trimmer runs
    (False off glibc, or when the period is 0)."""
    global _trimmer
    if _trimmer is not None:  # every page run asks: the answer without a lock once it runs
        return True
    trim = _malloc_trim()
    if trim is None:
        return False
    with _trimmer_lock:
        if _trimmer is None:
            every_s = trim_period() if every_s is None else every_s
            if every_s <= 0:
                return False
            never = threading.Event()  # the thread lives as long as the process (a daemon)
            _trimmer = threading.Thread(
                target=trim_until, args=(never, every_s, trim), name="explorer-heap-trim", daemon=True
            )
            _trimmer.start()
    return True
