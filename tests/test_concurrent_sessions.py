"""Many browser sessions analyse the same cached model at once.

Streamlit runs each session's script in a thread of its own, and ``st.cache_resource`` hands every
session the same model object (the shipped models, the Signal page's model). Every analysis that
hooks that object, switches its train/eval mode or runs backward through it must be serialised on it
(:func:`explorer.measure.hooks.hooked` holds the model's lock), or one thread's hooks catch another's
forward: captum then raises "The differentiated Tensor ... appears to not have been used in the
graph" and saved activations mix.

The threads here call the library functions the pages call, on one shared object, all released at
once by a barrier; the results must equal the same calls made one at a time. (Running Streamlit's
``AppTest`` from several threads is no way to test this: each run swaps the global ``Runtime`` and
compiles the page scripts with CPython 3.11's parser, neither safe across threads; a server has one
runtime and one script cache behind a lock. The sessions' part of the story, one cached model handed
to several sessions that each get their own curves, is tested below one session after another.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from explorer.analysis.deform import deformable_layers, generated_shape, offset_fields
from explorer.analysis.saliency import explain_every_stage, explain_image
from explorer.analysis.signal import signal
from explorer.analysis.training import shapes_scores
from explorer.config import parse_query
from explorer.measure import hooks
from explorer.runtime.models import build_seeded
from explorer.runtime.packaged import load_packaged, packaged_models
from explorer.runtime.shipped import load_shipped, shipped_models
from explorer.runtime.weights import ExplainableModel

APP = str(Path(__file__).resolve().parents[1] / "app.py")
THREADS = 8
#: Every model the pages share between sessions: the shipped shapes models and the packaged ImageNet Lite0.
SHIPPED = [m.name for m in shipped_models()]
SHARED = [*SHIPPED, *(m.name for m in packaged_models())]


# -- the analyses the pages run on a cached model, as plain numbers ------------------------------------
def _cam(model: ExplainableModel, seed: int) -> tuple[Any, ...]:
    image, _ = generated_shape(seed, model.config.input_resolution)
    explained = explain_image(model, image)
    return ("cam", explained.cam.target, explained.cam.heatmap)


def _strip(model: ExplainableModel, seed: int) -> tuple[Any, ...]:
    image, _ = generated_shape(seed, model.config.input_resolution)
    cams = explain_every_stage(model, image)
    return ("strip", *(c.target for c in cams), *(c.heatmap for c in cams))


def _offsets(model: ExplainableModel, seed: int) -> tuple[Any, ...]:
    image, _ = generated_shape(seed, model.config.input_resolution)
    view = offset_fields(model.built, image, model.mean, model.std)
    return ("offsets", *(view.fields[name].offsets for name in view.order if name in view.fields))


def _signal(model: ExplainableModel, seed: int) -> tuple[Any, ...]:
    # eval mode: in training mode, batch statistics of 4 pictures at 1x1 make MobileNet V2's gradients
    # chaotic (norms of 400, differing by 10% between two serial runs), so nothing could be compared
    result = signal(model.config, model.built, batch=4, seed=seed, resolution=32, training=False)
    return ("signal", np.array(result.series("activation_std")), np.array(result.series("grad_norm")))


def _pointing(model: ExplainableModel, seed: int) -> tuple[Any, ...]:
    scores = shapes_scores(model.built, seed=seed, n=4, chunk=2)
    return ("pointing", scores.accuracy, scores.pointing)


def _jobs(model: ExplainableModel) -> list[tuple[Callable[[ExplainableModel, int], tuple[Any, ...]], int]]:
    """Grad-CAM beside its every-stage strip, the pointing game, signal flow and offset fields: one
    job a thread (the heavier models take a second a job on these two cores)."""
    kinds = [_cam, _strip, _pointing, _signal]
    if deformable_layers(model.built):
        kinds.append(_offsets)
    return [(kinds[i % len(kinds)], 100 + i) for i in range(THREADS)]


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(
        (np.shape(x) == np.shape(y) and np.allclose(x, y, rtol=1e-5, atol=1e-5))
        if isinstance(x, np.ndarray)
        else x == y
        for x, y in zip(a, b, strict=True)
    )


def _at_once(model: ExplainableModel, jobs: list) -> tuple[dict[int, tuple[Any, ...]], list[BaseException]]:
    """Run ``jobs`` from ``THREADS`` threads released together; results by job index, and errors."""
    results: dict[int, tuple[Any, ...]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def worker(offset: int) -> None:
        start.wait()
        for index in range(offset, len(jobs), THREADS):
            job, seed = jobs[index]
            try:
                results[index] = job(model, seed)
            except BaseException as error:  # surfaced in the main thread
                errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    torch_threads = torch.get_num_threads()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    torch.set_num_threads(torch_threads)
    return results, errors


@pytest.fixture(scope="module")
def shipped() -> dict[str, ExplainableModel]:
    return {name: load_shipped(name) for name in SHIPPED} | {m.name: load_packaged(m) for m in packaged_models()}


@pytest.mark.parametrize("name", SHARED)
def test_every_hooked_analysis_from_eight_threads_equals_the_same_calls_one_at_a_time(shipped, name):
    model = shipped[name]
    jobs = _jobs(model)
    alone = [job(model, seed) for job, seed in jobs]
    state = {k: v.clone() for k, v in model.built.module.state_dict().items()}

    together, errors = _at_once(model, jobs)

    assert not errors, errors[:3]
    assert sorted(together) == list(range(len(jobs)))
    different = [jobs[i][0].__name__ for i in range(len(jobs)) if not _same(together[i], alone[i])]
    assert not different, different
    after = model.built.module.state_dict()
    assert all(torch.equal(after[k], v) for k, v in state.items())  # weights and BN statistics unchanged
    assert not model.built.module.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.built.module.modules())


def _cam_while_another_holds_the_model(model: ExplainableModel, wait: float) -> bool:
    """Whether a Grad-CAM finishes within ``wait`` seconds while another thread is inside
    ``hooked`` on the same model (an analysis in progress there)."""
    inside, release, done = threading.Event(), threading.Event(), threading.Event()

    def holder() -> None:
        with hooks.hooked(model.built.module, training=False):
            inside.set()
            release.wait()

    def explainer() -> None:
        inside.wait()
        _cam(model, 100)
        done.set()

    threads = [threading.Thread(target=holder), threading.Thread(target=explainer)]
    for t in threads:
        t.start()
    finished = done.wait(wait)
    release.set()
    for t in threads:
        t.join()
    assert done.is_set()  # once the holder let go, the Grad-CAM ran
    return finished


def test_an_analysis_waits_while_another_thread_has_the_model_hooked(shipped):
    assert not _cam_while_another_holds_the_model(shipped[SHIPPED[0]], wait=1.0)


def test_without_the_models_lock_an_analysis_runs_into_another(shipped, monkeypatch):
    """The tests above would catch a missing lock: with ``hooked`` no longer serialising, a Grad-CAM
    runs while another thread's hooks are on the model (as ``grad_cam`` did before the lock moved
    into ``hooked``)."""

    @contextmanager
    def no_lock(model):
        yield

    monkeypatch.setattr(hooks, "model_lock", no_lock)
    assert _cam_while_another_holds_the_model(shipped[SHIPPED[0]], wait=60.0)


# -- sessions of one server share the Signal page's cached model ----------------------------------------
QUERY = {"family": "plain", "depth": "10", "width": "4", "resolution": "16"}
BATCHES = (2, 4, 8, 16)


def _open() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page("pages/signal.py")
    for key, value in QUERY.items():
        at.query_params[key] = value
    at.run()
    return at


def _curves(at: AppTest) -> tuple[list[float], list[float]]:
    assert not at.exception, at.exception
    charts = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    std, grad = (charts[f"signal.chart.{m}"]["data"][0]["y"] for m in ("activation_std", "grad_norm"))
    return std, grad


def test_sessions_on_one_cached_model_get_their_own_curves():
    config = parse_query("&".join(f"{k}={v}" for k, v in QUERY.items()))
    alone = {}
    for batch in BATCHES:  # the same analyses on a private model
        result = signal(config, build_seeded(config, seed=0), batch=batch, seed=0, resolution=16)
        alone[batch] = result.series("activation_std"), result.series("grad_norm")
    assert alone[2] != alone[16]  # the batches do give different curves

    sessions = [_open() for _ in BATCHES]  # every session holds the same cached model
    for at, batch in zip(sessions, BATCHES, strict=True):  # interleaved: each moves its slider in turn
        std, grad = _curves(at.select_slider(key="signal.batch").set_value(batch).run())
        assert std == pytest.approx(alone[batch][0], rel=1e-5), batch
        assert grad == pytest.approx(alone[batch][1], rel=1e-5), batch
    std, grad = _curves(sessions[0].run())  # the first session's view is still its own
    assert std == pytest.approx(alone[BATCHES[0]][0], rel=1e-5)
