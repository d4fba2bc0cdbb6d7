"""Comparing numbers torch computes now with numbers stored on another machine.

float32 training is reproducible to rounding, not bit for bit, across processors: the same code on an
AVX2 and an AVX-512 machine sums a convolution's or a loss's terms in another order (another SIMD
width, another oneDNN kernel), so from the first optimiser step on the losses differ in the seventh
significant digit (seen: 2.0838286876678467 against 2.083828926086426, a relative 1.1e-7, one float32
ulp). A stored float is therefore compared with :data:`REPLAY_REL`, which that rounding explains over
a few steps and which a real change does not pass (``tests/test_runs.py`` shows that a 1 % change of
the learning rate or another seed moves the replayed losses past it).

Exact comparison stays where the computation is exact: integer counts, shapes, checksums of files,
and a replay within one process (the same kernels on the same numbers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Relative tolerance for a few replayed float32 training steps: float32's epsilon is 1.19e-7, each
#: step's loss sums a few thousand terms in a machine-dependent order (a few ulps), and three steps of
#: an optimiser carry that into the weights; 1e-5 (about 80 ulps) holds all of it with room to spare.
REPLAY_REL = 1e-5


def floats_close(live: Sequence[float], stored: Sequence[float], rel: float = REPLAY_REL) -> bool:
    """True when both hold as many numbers and each pair agrees to ``rel`` (relative to the stored)."""
    return len(live) == len(stored) and all(
        math.isclose(a, b, rel_tol=rel, abs_tol=0.0) for a, b in zip(live, stored, strict=True)
    )


def largest_relative_difference(live: Sequence[float], stored: Sequence[float]) -> float:
    """The largest ``|live - stored| / |stored|`` over the pairs (for messages and for showing that a
    real change lands well outside :data:`REPLAY_REL`)."""
    return max(abs(a - b) / max(abs(b), 1e-30) for a, b in zip(live, stored, strict=True))


def assert_floats_close(
    live: Sequence[float], stored: Sequence[float], context: str = "", rel: float = REPLAY_REL
) -> None:
    """Assert :func:`floats_close`, saying how far apart the two are when they are not."""
    assert len(live) == len(stored), f"{context}: {len(live)} numbers against {len(stored)} stored"
    assert floats_close(live, stored, rel), (
        f"{context}: {list(live)} against the stored {list(stored)} "
        f"(largest relative difference {largest_relative_difference(live, stored):.2e} > {rel:g})"
    )
