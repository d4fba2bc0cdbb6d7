"""The slow-work queue: at most N jobs at once, first come first served, places reported, and a
waiter that gives up leaves the line. The thread policy: one intra-op thread on 2 cores or fewer."""

from __future__ import annotations

import threading
import time

import pytest

from explorer.runtime.threads import policy_threads
from explorer.runtime.workqueue import WorkQueue


def test_at_most_slots_jobs_run_and_they_start_in_arrival_order():
    queue = WorkQueue(2)
    running, peak, order, lock = [0], [0], [], threading.Lock()

    def job(i: int) -> None:
        with queue.slot(poll_s=0.01):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
                order.append(i)
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    threads = []
    for i in range(6):
        threads.append(threading.Thread(target=job, args=(i,)))
        threads[-1].start()
        while queue.issued < i + 1:  # it has taken its ticket: the next one arrives after it
            time.sleep(0.001)
    for t in threads:
        t.join()
    assert peak[0] == 2 and sorted(order) == list(range(6))
    assert order == list(range(6))
    assert queue.running == 0 and queue.waiting == 0


def test_a_waiter_hears_its_place_and_can_give_up():
    queue = WorkQueue(1)
    holding, release = threading.Event(), threading.Event()

    def holder() -> None:
        with queue.slot():
            holding.set()
            release.wait(5)

    threading.Thread(target=holder).start()
    holding.wait(5)
    places: list[int] = []

    def impatient(position: int) -> None:
        places.append(position)
        if len(places) == 3:
            raise KeyboardInterrupt  # what a rerun or a closed tab does inside a script thread

    with pytest.raises(KeyboardInterrupt), queue.slot(on_wait=impatient, poll_s=0.01):
        pass
    assert places == [1, 1, 1] and queue.waiting == 0
    release.set()
    with queue.slot(poll_s=0.01):  # the line is free again
        assert queue.running == 1


def test_bad_slots_and_the_thread_policy():
    with pytest.raises(ValueError, match="slots=0"):
        WorkQueue(0)
    assert policy_threads(cores=2) == 1 and policy_threads(cores=1) == 1
    assert policy_threads(cores=16) is None  # torch's default stays on bigger machines
    assert policy_threads(cores=2, override="3") == 3
    with pytest.raises(ValueError, match="EXPLORER_THREADS=0"):
        policy_threads(override="0")


def test_the_signal_page_trains_through_the_queue():
    """While another session holds the only slot, Train waits; it runs once the slot is free."""
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from explorer.runtime.workqueue import SLOW_WORK

    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=180)
    at.switch_page("pages/signal.py")
    for key, value in {"family": "plain", "depth": "8", "width": "4", "resolution": "16"}.items():
        at.query_params[key] = value
    at.run()
    at.select_slider(key="train.steps").set_value(10)
    at.select_slider(key="train.batch").set_value(4)
    held, release = threading.Event(), threading.Event()

    def other_student() -> None:
        with SLOW_WORK.slot():
            held.set()
            release.wait(30)

    threads = [threading.Thread(target=other_student) for _ in range(SLOW_WORK.slots)]
    for t in threads:
        t.start()
    assert held.wait(10)
    deadline = time.perf_counter() + 10
    while SLOW_WORK.running < SLOW_WORK.slots and time.perf_counter() < deadline:  # every slot taken
        time.sleep(0.01)
    threading.Timer(1.5, release.set).start()
    start = time.perf_counter()
    at.button(key="train.start").click().run()
    assert not at.exception, at.exception
    assert time.perf_counter() - start >= 1.5  # it waited for the slot
    assert any("Trained 10 steps" in s.value for s in at.success)
    for t in threads:
        t.join()
    assert SLOW_WORK.running == 0 and SLOW_WORK.waiting == 0
