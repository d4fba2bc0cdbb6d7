"""A fresh server's first page and its first design that is not stored, with and without the warm-up.

    python bench/bench_warm.py

Three fresh servers, one after the other, each opened by one websocket student (``bench_classroom.py``'s):

- ``worker``: a class worker as ``run.py serve`` starts it (``deploy/worker.py``: it warms up, then
  listens): seconds until it answers, its first page (the Build page of a stored preset), then a design
  no preset stores (its profile computed now).
- ``app, warm``: ``streamlit run app.py``: its first page, then the same design once the warm-up that
  the first page asked for is over (its "[explorer] warm" line).
- ``app, cold``: the same, the design opened right after the first page, before any warm-up: what a
  class met on main (torch, torchvision and the families imported inside that open).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench_classroom import student

from explorer.runtime.ports import free_port  # importable: bench_classroom puts the root on sys.path

ROOT = Path(__file__).resolve().parents[1]
FIRST = ("preset=resnet18", "width")
NOT_STORED = ("preset=resnet50&width=60", "depth")


def _open(url: str, link: tuple[str, str]) -> float:
    done = asyncio.run(student(url, *link, moves=0, pace=0, delay=0, seed=0))
    if done.errors or not done.opens:
        raise SystemExit(f"{link[0]}: {done.errors}")
    return done.opens[0]


def measure(mode: str) -> str:
    port = free_port()
    program = [str(ROOT / "deploy" / "worker.py")] if mode == "worker" else ["-m", "streamlit", "run", "app.py"]
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, *program, "--server.headless", "true", "--server.port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    warm = threading.Event()

    def read() -> None:
        assert server.stderr is not None
        for line in server.stderr:
            if line.startswith("[explorer] warm"):
                warm.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                if time.monotonic() - started > 300:
                    raise SystemExit("the server did not start in 300 s") from None
                time.sleep(0.1)
        listening = time.monotonic() - started
        url = f"ws://127.0.0.1:{port}"
        first = _open(url, FIRST)
        if mode == "app, warm" and not warm.wait(300):
            raise SystemExit("no warm-up within 300 s")
        warmed = f"{time.monotonic() - started:.1f} s" if warm.is_set() else "-"
        design = _open(url, NOT_STORED)
    finally:
        server.terminate()
        server.wait()
    return f"{mode:<11} {listening:>8.1f} s {first:>9.2f} s {warmed:>12} {design:>12.2f} s"


def main() -> int:
    print(f"# {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'server':<11} {'answers':>10} {'first page':>11} {'warm after':>12} {'not stored':>14}")
    for mode in ("worker", "app, warm", "app, cold"):
        print(measure(mode), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
