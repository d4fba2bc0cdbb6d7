"""Where a search's tasks run: in this process, a local process pool, or Ray.

In-process (:class:`InlineExecutor`: tests, one at a time), a local process pool
(:class:`PoolExecutor`, ``spawn``: safe from a multi-threaded server, and CUDA works in the
children), and Ray (:class:`RayExecutor`; ``ray`` is imported only when asked for). Each yields
(index, result) as tasks finish, in any order, and raises :class:`Cancelled` when its stop event is
set.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import signal
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from explorer.analysis.search.task import TaskResult, TaskSpec, run_task
from explorer.errors import InputError

__all__ = ["RAY_GPU_SHARE", "Cancelled", "Executor", "InlineExecutor", "PoolExecutor", "RayExecutor", "make_executor"]


#: Under Ray on a GPU, each task asks for this share of a GPU (tiny models leave a GPU mostly idle).
RAY_GPU_SHARE = 0.125


class Cancelled(Exception):
    """The search was stopped (its stop event was set); what was finished is kept."""


class Executor(Protocol):
    #: Where tasks run, for people ("pool of 2 workers on cpu").
    description: str

    def run(self, tasks: Sequence[TaskSpec], stop: threading.Event | None = None) -> Iterator[tuple[int, TaskResult]]:
        """Yield (index into ``tasks``, result) as tasks finish, in any order; raise Cancelled when
        ``stop`` is set (pending work is dropped)."""
        ...

    def close(self) -> None: ...


def _indexed(item: tuple[int, TaskSpec]) -> tuple[int, TaskResult]:
    index, task = item
    return index, run_task(task)


def _device_for(device: str, index: int) -> str:
    """Round-robin over the visible GPUs for ``cuda``; anything else as it is."""
    if device != "cuda":
        return device
    import torch

    count = max(1, torch.cuda.device_count())
    return f"cuda:{index % count}"


class InlineExecutor:
    """One task after another in this process (tests, and a machine without processes to spare)."""

    def __init__(self, device: str = "cpu", threads: int = 1) -> None:
        self.device, self.threads = device, threads
        self.description = f"in-process on {device}"

    def run(self, tasks: Sequence[TaskSpec], stop: threading.Event | None = None) -> Iterator[tuple[int, TaskResult]]:
        for index, task in enumerate(tasks):
            if stop is not None and stop.is_set():
                raise Cancelled
            yield index, run_task(dataclasses.replace(task, device=self.device, threads=self.threads))

    def close(self) -> None:
        pass


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group: the parent decides (terminates the pool), so a worker
    # must not die half-way through writing its result into the pipe.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class PoolExecutor:
    """A local process pool (``spawn``), one single-threaded task per worker; on ``cuda`` every task
    is placed on a GPU (round-robin over the visible ones)."""

    def __init__(self, workers: int | None = None, device: str = "cpu") -> None:
        import multiprocessing

        self.workers = workers or os.cpu_count() or 1
        if self.workers < 1:
            raise InputError(f"{self.workers}; allowed: 1 or more", field="workers")
        self.device = device
        self._pool = multiprocessing.get_context("spawn").Pool(self.workers, initializer=_ignore_sigint)
        self.description = f"process pool of {self.workers} worker{'s' * (self.workers > 1)} on {device}"

    def run(self, tasks: Sequence[TaskSpec], stop: threading.Event | None = None) -> Iterator[tuple[int, TaskResult]]:
        done: queue.Queue[tuple[int, TaskResult] | BaseException] = queue.Queue()
        for index, task in enumerate(tasks):
            placed = dataclasses.replace(task, device=_device_for(self.device, index), threads=1)
            self._pool.apply_async(_indexed, ((index, placed),), callback=done.put, error_callback=done.put)
        for _ in tasks:
            while True:
                if stop is not None and stop.is_set():
                    raise Cancelled
                try:
                    item = done.get(timeout=0.1)
                    break
                except queue.Empty:
                    continue
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop at once: running trainings are killed, pending ones dropped."""
        self._pool.terminate()
        self._pool.join()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(
            "Ray is not installed here (pip install ray, or python3 run.py test, which installs the dev "
            "requirements); without --ray the search runs on a local process pool"
        ) from None
    return ray


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on an address nothing listens at (Ray's client retries for about a minute)."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or not port:
        raise InputError(f"'{address}'; allowed: auto (a local Ray instance) or ray://host:port", field="ray")
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise InputError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def _quiet_ray() -> Iterator[None]:
    """Ray's client logs its connection settings at INFO on stderr: keep the one-line error contract."""
    import logging

    loggers = [logging.getLogger(name) for name in ("ray", "ray.util.client", "ray.client_builder")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class RayExecutor:
    """Ray tasks: ``address="auto"`` starts a local Ray instance (shut down on close), ``ray://host:port``
    joins a cluster (the ``explorer`` package is shipped with the job), ``None`` uses the Ray this
    process has already initialised (and leaves it running)."""

    def __init__(self, address: str | None, workers: int | None = None, device: str = "cpu") -> None:
        ray = _import_ray()
        self._ray, self.device, self._owned = ray, device, False
        package = Path(__file__).resolve().parents[2]  # explorer/, shipped to a cluster
        if address is None:
            if not ray.is_initialized():
                raise InputError("Ray is not initialised in this process; pass an address ('auto' or ray://host:port)")
        elif address == "auto":
            ray.init(
                num_cpus=workers or os.cpu_count() or 1,
                include_dashboard=False,
                log_to_driver=False,
                runtime_env={"env_vars": {"PYTHONPATH": str(package.parent)}},
            )
            self._owned = True
        elif address.startswith("ray://"):
            _reachable(address)
            try:
                with warnings.catch_warnings(), _quiet_ray():
                    warnings.simplefilter("ignore")
                    ray.init(address=address, runtime_env={"py_modules": [str(package)]})
            except Exception as exc:  # Ray raises ConnectionError, grpc errors, or a bare Exception
                raise InputError(f"cannot reach the Ray cluster at {address}: {' '.join(str(exc).split())}") from None
            self._owned = True
        else:
            raise InputError(f"'{address}'; allowed: auto (a local Ray instance) or ray://host:port", field="ray")
        options: dict[str, Any] = {"num_cpus": 1, "max_retries": 0}
        if device.startswith("cuda"):
            options["num_gpus"] = RAY_GPU_SHARE
        self._remote = ray.remote(**options)(run_task)
        resources = ray.cluster_resources()
        self.description = f"Ray ({address or 'this process'}: {resources.get('CPU', 0):g} CPUs) on {device}"

    def run(self, tasks: Sequence[TaskSpec], stop: threading.Event | None = None) -> Iterator[tuple[int, TaskResult]]:
        ray = self._ray
        device = "cuda" if self.device.startswith("cuda") else self.device  # Ray picks the GPU
        refs = {self._remote.remote(dataclasses.replace(t, device=device, threads=1)): i for i, t in enumerate(tasks)}
        pending = list(refs)
        try:
            while pending:
                if stop is not None and stop.is_set():
                    raise Cancelled
                ready, pending = ray.wait(pending, num_returns=1, timeout=0.1)
                for ref in ready:
                    yield refs[ref], ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()


def make_executor(workers: int | None = None, ray: str | None = None, device: str = "cpu") -> Executor:
    """A Ray executor when ``ray`` names an address, else a local pool of ``workers`` (default: one
    per core)."""
    if ray is not None:
        return RayExecutor(ray, workers, device)
    return PoolExecutor(workers, device)
