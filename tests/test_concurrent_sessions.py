"""Several browser sessions analyse the same cached model at once (the Signal page's
``st.cache_resource`` model is shared by every session of a server): each gets its own, correct
curves, exactly those of the same analysis run alone, and the shared model comes back unchanged."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.analysis.signal import signal
from explorer.config import parse_query
from explorer.runtime.models import build_seeded

APP = str(Path(__file__).resolve().parents[1] / "app.py")
QUERY = {"family": "plain", "depth": "10", "width": "4", "resolution": "16"}
BATCHES = (2, 4, 8, 16)


def _open() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page("pages/signal.py")
    for key, value in QUERY.items():
        at.query_params[key] = value
    at.run()
    return at


def _session(at: AppTest, batch: int, out: dict[int, object], errors: list[BaseException]) -> None:
    try:
        at.select_slider(key="signal.batch").set_value(batch).run()
        assert not at.exception, at.exception
        charts = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
        std, grad = (charts[f"signal.chart.{m}"]["data"][0]["y"] for m in ("activation_std", "grad_norm"))
        out[batch] = std, grad
    except BaseException as error:  # surfaced in the main thread
        errors.append(error)


def test_sessions_on_one_cached_model_get_their_own_curves():
    config = parse_query("&".join(f"{k}={v}" for k, v in QUERY.items()))
    alone = {}
    for batch in BATCHES:  # the same analyses, one at a time, on a private model
        result = signal(config, build_seeded(config, seed=0), batch=batch, seed=0, resolution=16)
        alone[batch] = result.series("activation_std"), result.series("grad_norm")
    assert alone[2] != alone[16]  # the batches do give different curves

    out: dict[int, object] = {}
    errors: list[BaseException] = []
    # Each session opens the page first, one after another: every AppTest compiles the page scripts
    # with its own script cache, and CPython 3.11's ast.parse is not safe in concurrent threads (a
    # server has one cache behind a lock). Then the four analyses run at once on the shared model.
    sessions = [_open() for _ in BATCHES]
    threads = [
        threading.Thread(target=_session, args=(at, b, out, errors)) for at, b in zip(sessions, BATCHES, strict=True)
    ]
    torch_threads = torch.get_num_threads()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    torch.set_num_threads(torch_threads)
    assert not errors, errors
    for batch in BATCHES:
        std, grad = out[batch]
        assert std == pytest.approx(alone[batch][0], rel=1e-5), batch
        assert grad == pytest.approx(alone[batch][1], rel=1e-5), batch
