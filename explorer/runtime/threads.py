"""One thread policy for the app and the command line.

On a machine with two cores or fewer, torch's intra-op threads spin against each other and against
everything else running (measured in bench/bench_training.py: a ResNet-20 step took 2.0 s with 2
threads against 0.29 s with 1 on a busy 2-core machine), and a served app already runs one script
thread per student. There, one intra-op thread. Elsewhere torch's own default stays.
``EXPLORER_THREADS`` sets the number explicitly.
"""

from __future__ import annotations

import os

import torch

from explorer.errors import InputError

_applied: int | None = None


def policy_threads(cores: int | None = None, override: str | None = None) -> int | None:
    """The intra-op thread count the policy asks for (None: leave torch's default)."""
    if override:
        threads = int(override)
        if threads < 1:
            raise InputError(f"EXPLORER_THREADS={override}; allowed: 1 or more")
        return threads
    cores = cores if cores is not None else (os.cpu_count() or 1)
    return 1 if cores <= 2 else None


def apply_thread_policy() -> int:
    """Set torch's intra-op threads by :func:`policy_threads` (once per process); return the count."""
    global _applied
    if _applied is None:
        threads = policy_threads(override=os.environ.get("EXPLORER_THREADS"))
        if threads is not None:
            torch.set_num_threads(threads)
        _applied = torch.get_num_threads()
    return _applied
