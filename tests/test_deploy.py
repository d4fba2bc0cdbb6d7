"""Serving a class with several workers: ``python3 run.py serve`` starts two app processes behind
nginx (deploy/nginx.conf.template); a browser session stays on one worker through reruns and
reconnects (sticky cookie), and new browsers spread over both. Skipped where nginx is not installed
(``python3 run.py test`` installs Debian's nginx-light when it runs as root, as CI does)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)"),
]


def _free_port_block(size: int) -> int:
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            base = sock.getsockname()[1]
        if base + size < 65000 and all(_is_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free block of ports")


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _get(url: str, cookie: str | None = None) -> tuple[str, str | None]:
    """(the worker that answered, the sticky cookie set) for one GET."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        worker = response.headers["X-Explorer-Worker"]
        cookies = [c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or []]
        return worker, next((c for c in cookies if c.startswith("explorer_worker=")), None)


async def _session_on(url: str, cookie: str, reruns: int) -> set[str]:
    """Open a websocket session with ``cookie``, rerun the page ``reruns`` times; the workers seen."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    seen = set()
    async with websockets.connect(
        f"{url}/_stcore/stream", subprotocols=["streamlit"], additional_headers={"Cookie": cookie}, max_size=None
    ) as ws:
        seen.add(ws.response.headers["X-Explorer-Worker"])
        for _ in range(reruns):
            message = BackMsg()
            message.rerun_script.query_string = "family=plain&depth=6&width=4&resolution=16"
            await ws.send(message.SerializeToString())
            while True:
                reply = ForwardMsg()
                reply.ParseFromString(await asyncio.wait_for(ws.recv(), 120))
                if reply.WhichOneof("type") == "script_finished":
                    assert reply.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
                    break
    return seen


def _run(coroutine):
    """asyncio.run in a thread of its own: the browser tests' Playwright may own this thread's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def served():
    port = _free_port_block(3)
    command = [sys.executable, str(ROOT / "run.py"), "serve", "--workers", "2", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--address", "127.0.0.1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    ready = set()
    while time.time() < deadline and len(ready) < 2:
        if server.poll() is not None:
            pytest.fail(f"run.py serve stopped: {server.stderr.read()[-2000:]}")
        for worker_port in (port + 1, port + 2):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{worker_port}/_stcore/health", timeout=1).read()
                ready.add(worker_port)
            except OSError:
                pass
        time.sleep(0.3)
    assert len(ready) == 2, "the two workers did not start in 180 s"
    try:
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        for listening in (port, port + 1, port + 2):  # run.py serve stops its workers and nginx with itself
            deadline = time.time() + 30
            while _listening(listening) and time.time() < deadline:
                time.sleep(0.2)
            assert not _listening(listening), f"something still listens on {listening} after run.py serve stopped"


def test_a_browser_stays_on_one_worker_through_reruns_and_reconnects(served):
    worker, cookie = _get(served + "/")
    assert cookie is not None and worker.startswith("127.0.0.1:")
    for _ in range(3):  # the page's own requests carry the cookie: the same worker each time
        again, _ = _get(served + "/_stcore/health", cookie)
        assert again == worker
    ws_url = served.replace("http://", "ws://")
    for _ in range(2):  # a session, then a reconnect (a new websocket with the same cookie)
        assert _run(_session_on(ws_url, cookie, reruns=2)) == {worker}


def test_new_browsers_spread_over_both_workers(served):
    workers = {_get(served + "/_stcore/health")[0] for _ in range(16)}  # no cookie: a new browser each time
    assert len(workers) == 2
