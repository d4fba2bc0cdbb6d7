"""A bounded pool for slow work shared by every session of a server: training, Grad-CAM on a new
model, latency measurements. At most ``slots`` such jobs run at once, so the other students' reruns
(profiles, cached pictures) keep a core; the rest wait in arrival order and can tell their user
their place in the queue.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["SLOW_WORK", "WorkQueue"]


class WorkQueue:
    """First come, first served admission of at most ``slots`` jobs at a time (thread-safe)."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots={slots}; allowed: 1 or more")
        self.slots = slots
        self._cond = threading.Condition()
        self._running = 0
        self._waiting: deque[int] = deque()
        self._tickets = itertools.count()
        self._issued = 0

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def issued(self) -> int:
        """Slots asked for so far (served, running or waiting)."""
        return self._issued

    @contextmanager
    def slot(self, on_wait: Callable[[int], None] | None = None, poll_s: float = 0.5) -> Iterator[None]:
        """Hold one of the slots for the ``with`` body. While waiting, ``on_wait(position)`` is
        called about every ``poll_s`` seconds (1: next in line). If the wait is interrupted (the
        page reruns or the session closes, which raises inside ``on_wait``), the place is given up."""
        with self._cond:
            ticket = next(self._tickets)
            self._issued += 1
            self._waiting.append(ticket)
        try:
            while True:
                with self._cond:
                    if self._running < self.slots and self._waiting[0] == ticket:
                        self._waiting.popleft()
                        self._running += 1
                        break
                    position = self._waiting.index(ticket) + 1
                if on_wait is not None:
                    on_wait(position)
                with self._cond:
                    self._cond.wait(timeout=poll_s)
        except BaseException:
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._cond.notify_all()
            raise
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


def _default_slots() -> int:
    override = os.environ.get("EXPLORER_SLOW_SLOTS")
    if override:
        return int(override)
    return max(1, (os.cpu_count() or 1) // 2)  # half the cores: the rest serve everyone's reruns


#: The one queue of a server process (one slot per two cores; ``EXPLORER_SLOW_SLOTS`` overrides).
SLOW_WORK = WorkQueue(_default_slots())
