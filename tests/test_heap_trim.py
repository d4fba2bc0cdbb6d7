"""A server's heap is trimmed every few seconds (explorer.runtime.release.keep_heap_trimmed)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from explorer.runtime.release import (
    TRIM_EVERY_S,
    TRIM_SETTING,
    _malloc_trim,
    keep_heap_trimmed,
    trim_period,
    trim_until,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_trimmer_trims_at_its_pace_until_stopped() -> None:
    stop, calls = threading.Event(), []

    def trim(pad: int) -> int:
        calls.append(pad)
        if len(calls) == 3:
            stop.set()
        return 1

    worker = threading.Thread(target=trim_until, args=(stop, 0.01, trim))
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive() and calls == [0, 0, 0]  # trim(0): every free page, none kept in reserve


@pytest.mark.parametrize(
    ("setting", "period"), [(None, TRIM_EVERY_S), ("2.5", 2.5), ("0", 0.0), ("-1", 0.0), ("inf", 0.0), (" 30 ", 30.0)]
)
def test_the_period_comes_from_the_environment(setting, period, monkeypatch, capsys) -> None:
    if setting is None:
        monkeypatch.delenv(TRIM_SETTING, raising=False)
    else:
        monkeypatch.setenv(TRIM_SETTING, setting)
    assert trim_period() == period
    assert capsys.readouterr().err == ""


def test_a_setting_that_is_no_number_is_said_in_the_log_and_the_default_kept(monkeypatch, capsys) -> None:
    monkeypatch.setenv(TRIM_SETTING, "often")
    assert trim_period() == TRIM_EVERY_S
    said = capsys.readouterr().err
    assert said == f"[explorer] {TRIM_SETTING}='often' is not a number of seconds; trimming every 10 s\n"


def test_one_trimmer_per_process_whatever_the_number_of_sessions() -> None:
    if _malloc_trim() is None:
        pytest.skip("not glibc: nothing to trim")
    assert keep_heap_trimmed() and keep_heap_trimmed()
    trimmers = [t for t in threading.enumerate() if t.name == "explorer-heap-trim"]
    assert len(trimmers) == 1 and trimmers[0].daemon


#: In a fresh interpreter: 128 MB in 64 KB pieces (under malloc's mmap threshold: in the heap), all
#: but every 50th freed, so the free pages lie between live ones, where free() never returns them.
#: RSS is read before the trimmer starts and after it has had a few turns.
_FRAGMENTED = """
import time
from explorer.runtime.release import keep_heap_trimmed
def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
blocks = [bytearray(64 * 1024) for _ in range(2000)]
kept = blocks[::50]
del blocks
before = rss_mb()
assert keep_heap_trimmed(every_s=0.05)
time.sleep(0.5)
print(before, rss_mb())
"""


def test_the_trimmer_gives_a_fragmented_heap_back() -> None:
    if _malloc_trim() is None:
        pytest.skip("not glibc: nothing to trim")
    done = subprocess.run(
        [sys.executable, "-c", _FRAGMENTED], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    before, after = map(float, done.stdout.split())
    assert before - after > 100, (before, after)  # about 125 MB of the 128 freed come back
