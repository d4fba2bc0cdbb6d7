"""The warm-up's report reaches ``run.py serve``'s log whole.

A class's workers write into one pipe (``run.py serve``'s output). ``print`` writes a text and its
newline in two system calls, so a line of another worker could land between them: two warm-up reports
then read as one line, and the log (and tests/test_deploy.py, which counts them) saw 2 of 3. Each
``write`` below stands for one system call: stderr flushes on a newline.
"""

from __future__ import annotations

import io
import sys

import pytest

from explorer.runtime.warm import WarmReport


class _Writes(io.StringIO):
    """A stream that keeps each ``write`` apart."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def write(self, text: str) -> int:
        self.calls.append(text)
        return super().write(text)


@pytest.mark.parametrize(
    "report",
    [WarmReport(4.2, 0.8, 57), WarmReport(1.5, 0.0, 12, "OSError('disk full')")],
    ids=["warm", "failed"],
)
def test_a_report_goes_out_in_one_write_with_its_newline(report: WarmReport, monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _Writes()
    monkeypatch.setattr(sys, "stderr", stream)
    report.say()
    assert stream.calls == [report.line() + "\n"]
    assert report.line().startswith("[explorer] warm")
    assert ("warm-up failed after 1.5 s: OSError('disk full')" in report.line()) == (report.error is not None)
