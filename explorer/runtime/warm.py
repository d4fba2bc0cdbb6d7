"""A server process's imports made whole before its sessions share them, and its warm-up.

A Streamlit server runs each session's script in a thread of its own from its first second (DESIGN
note 14). Python hands a thread a module that another thread is still importing whenever the first
looks it up in ``sys.modules`` instead of importing it: plotly does so for numpy and pandas
(``get_module(name, should_load=False)``), narwhals for pandas. Twelve students opening a fresh
server at once saw ``partially initialized module 'numpy' has no attribute 'ndarray'`` from inside
plotly (issue 35). :func:`import_page_libraries` imports those libraries whole, under one
process-wide lock, before any page runs: a second thread waits on the lock and finds them complete.

:func:`start_warm_up` does the rest in a background thread: torch, torchvision, captum, the
library's modules from this layer down (:func:`library_modules`), one design profiled on the meta
device (the path a design that is not stored takes) and one small model built and run. Without it, the first
design a class opens that is not stored pays about 4 s of imports while everyone waits. The earliest
request wins: the app asks for it once its first page has reached the browser. A class worker
(``deploy/worker.py``) warms up with :func:`warm_up_now` before it listens at all, so nginx never
sends a student to a cold worker, at the start of a class or after a restart.

Python's per-module import locks do not make concurrent first imports safe: when two threads import
modules that import each other in different orders, its deadlock detection hands one of them a
module that is still being initialised (measured under a class: ``cannot import name 'profile' from
'explorer.measure.profile'``, ``... 'StochasticDepth' from partially initialized module
'torchvision.ops'``). So, once a warm-up is asked for and until its imports are done, page runs and
the warm-up take turns (:func:`page_turn`, around each page run in ``app.py``): one at a time, the
warm-up ahead of runs that arrive after it. On one core's worth of GIL this costs a class little; after
the warm-up there are no turns at all. A process that never asks for one (a test, a single user
whose first link was a design not stored) runs its pages as before.

This module imports nothing heavy itself: the app's first page imports it before torch.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = [
    "PAGE_LIBRARIES",
    "WARM_LIBRARIES",
    "WarmReport",
    "import_page_libraries",
    "imports_ready",
    "module_whole",
    "page_turn",
    "start_warm_up",
    "wait_ready",
    "warm_report",
    "warm_up_now",
]

#: Libraries that other libraries look up in ``sys.modules`` rather than import (plotly, narwhals):
#: imported whole before any page runs. The first page imports them all anyway (about 0.8 s).
PAGE_LIBRARIES = ("numpy", "pandas", "pyarrow", "narwhals", "plotly.graph_objects")
#: The heavy libraries pages import lazily (about 5 s of one core together), before this library's own modules.
WARM_LIBRARIES = ("torch", "torchvision", "captum.attr")
#: The library's layers above this one (tests/test_imports.py): imported by the pages on first use, not
#: here, since imports point toward the ground; their heavy libraries (captum, plotly) are whole by then.
_ABOVE = ("explorer.analysis", "explorer.views", "explorer.cli", "explorer.export", "explorer.__main__")
#: The design the warm-up profiles and builds: not a stored preset, small enough to run in a blink.
WARM_QUERY = "preset=resnet110&depth=8&width=8&classes=8&resolution=32"


@dataclass(frozen=True)
class WarmReport:
    """What the warm-up did: seconds spent importing and building, and the error if it failed."""

    imports_s: float
    build_s: float
    modules: int
    error: str | None = None

    def line(self) -> str:
        """One log line for the server's output."""
        if self.error is not None:
            return f"[explorer] warm-up failed after {self.imports_s + self.build_s:.1f} s: {self.error}"
        return (
            f"[explorer] warm: torch, torchvision, captum and {self.modules} library modules imported in "
            f"{self.imports_s:.1f} s; one design profiled, built and run in {self.build_s:.1f} s"
        )

    def say(self) -> None:
        """Write :meth:`line` on stderr in one write. ``print`` writes a text and its newline apart (two
        system calls); a class's workers share ``run.py serve``'s pipe, so another worker's report could
        land between them and two reports would read as one line (seen once in about 20 test runs)."""
        sys.stderr.write(self.line() + "\n")
        sys.stderr.flush()


_page_lock = threading.Lock()
_pages_imported = False
_schedule_lock = threading.Lock()
_scheduled_at: float | None = None  # time.monotonic() at which the warm-up is due
_started = False
_imported = threading.Event()
_done = threading.Event()
_report: WarmReport | None = None
# The turns (see the module's docstring): page runs in flight, and whether the warm-up waits for its
# turn or is importing; both guarded by the condition.
_turns = threading.Condition()
_runs = 0
_warm_turn = False


def module_whole(name: str) -> bool:
    """Whether ``name`` is imported and finished (not a module another thread is still initialising)."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


def import_page_libraries() -> None:
    """Import :data:`PAGE_LIBRARIES` whole; every thread returns only once they are (lock-guarded)."""
    global _pages_imported
    if _pages_imported:
        return
    with _page_lock:
        if not _pages_imported:
            for name in PAGE_LIBRARIES:
                importlib.import_module(name)
            _pages_imported = True


def library_modules() -> list[str]:
    """The modules of this library from this layer down (runtime, measure, the language, the families,
    the ground), by name: everything a design is built, counted and run with."""
    import explorer

    found = pkgutil.walk_packages(explorer.__path__, "explorer.")
    return sorted(m.name for m in found if not m.name.startswith(_ABOVE))


def _import_everything() -> int:
    import_page_libraries()
    for name in WARM_LIBRARIES:
        importlib.import_module(name)
    modules = library_modules()
    for name in modules:
        importlib.import_module(name)
    from explorer.runtime.device import start_up
    from explorer.runtime.threads import apply_thread_policy

    start_up()  # the devices probed, as the picker will (CUDA's first query takes a while)
    apply_thread_policy()  # before the first model runs: one intra-op thread on small machines
    return len(modules)


def _build_one() -> None:
    import torch

    from explorer.config import parse_query
    from explorer.measure.profile import profile
    from explorer.runtime.models import build_seeded

    config = parse_query(WARM_QUERY)
    profile(config)  # the meta-device count a design that is not stored gets (FlopCounterMode and all)
    module = build_seeded(config).module.eval()
    side = config.input_resolution
    with torch.no_grad():
        module(torch.zeros(1, config.in_channels, side, side))


def _warm_asked() -> bool:
    return _scheduled_at is not None and not _imported.is_set()


@contextmanager
def page_turn() -> Iterator[None]:
    """Around a page run: while a warm-up is asked for and its imports are not done, the run waits for
    its turn and runs alone (see the module's docstring); otherwise it runs at once, beside others."""
    global _runs
    if _imported.is_set():
        yield
        return
    with _turns:
        _turns.wait_for(lambda: not _warm_turn and (_runs == 0 or not _warm_asked()))
        _runs += 1
    try:
        yield
    finally:
        with _turns:
            _runs -= 1
            _turns.notify_all()


@contextmanager
def _alone() -> Iterator[None]:
    """The warm-up's turn: page runs in flight finish first, later ones wait until it is over."""
    global _warm_turn
    with _turns:
        _warm_turn = True
        _turns.wait_for(lambda: _runs == 0)
    try:
        yield
    finally:
        with _turns:
            _warm_turn = False
            _imported.set()  # also after a failure: pages then import what they need themselves
            _turns.notify_all()


def _warm_up() -> None:
    global _report
    started = time.perf_counter()
    imported_at = started
    modules = 0
    report = WarmReport(0.0, 0.0, 0, "interrupted")
    try:
        with _alone():
            modules = _import_everything()
            imported_at = time.perf_counter()
            _build_one()  # in the turn too: it imports what profiling and a forward pass import lazily
        from explorer.runtime.heap import freeze_imports

        freeze_imports()  # the imports' objects out of full garbage collections (explorer.runtime.heap)
        report = WarmReport(imported_at - started, time.perf_counter() - imported_at, modules)
    except Exception as error:  # a warm-up that fails leaves pages to import what they need themselves
        report = WarmReport(imported_at - started, time.perf_counter() - imported_at, modules, repr(error))
    finally:
        _report = report
        _done.set()
    report.say()


def _begin() -> None:
    global _started
    with _schedule_lock:
        if _started:
            return
        _started = True
    _warm_up()


def start_warm_up(after_s: float = 0.0) -> None:
    """Warm this process up ``after_s`` seconds from now in a background thread, unless an earlier
    request already stands or it has begun; returns at once."""
    global _scheduled_at
    due = time.monotonic() + after_s
    with _schedule_lock:
        if _started or (_scheduled_at is not None and _scheduled_at <= due):
            return
        _scheduled_at = due
    timer = threading.Timer(after_s, _begin)
    timer.name, timer.daemon = "explorer-warm-up", True
    timer.start()


def warm_up_now() -> WarmReport | None:
    """Warm this process up in the calling thread, before it serves anyone (a class worker:
    ``deploy/worker.py``), or wait for a warm-up already under way; what it did."""
    global _scheduled_at
    with _schedule_lock:
        _scheduled_at = time.monotonic() if _scheduled_at is None else _scheduled_at
    _begin()
    _done.wait()
    return _report


def imports_ready() -> bool:
    """Whether the warm-up's imports are done (torch, the families, the library): pages need no more."""
    return _imported.is_set()


def wait_ready(timeout: float | None = None) -> bool:
    """Block until the warm-up is over (imports and the model), at most ``timeout`` s; whether it is."""
    return _done.wait(timeout)


def warm_report() -> WarmReport | None:
    """What the warm-up did, once it is over (None before)."""
    return _report
