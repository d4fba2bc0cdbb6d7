"""Serving a class with several workers: ``python3 run.py serve`` starts two app processes behind
nginx (deploy/nginx.conf.template); a browser session stays on one worker through reruns and
reconnects (sticky cookie), and new browsers spread over both; a worker killed as the out-of-memory
killer does is started again, and its students are answered by the other one meanwhile, their pages
coming back with their designs. Skipped where nginx is not installed (``python3 run.py test`` installs
Debian's nginx-light when it runs as root, as CI does)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from explorer.runtime.ports import free_port_block, healthy

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)"),
]


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


async def _session_on(
    url: str, cookie: str, reruns: int, query: str = "family=plain&depth=6&width=4&resolution=16"
) -> set[str]:
    """Open a websocket session with ``cookie``, rerun the page ``reruns`` times with ``query``; the
    workers seen. Every run must finish without an exception and keep the design in the page's URL."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    seen = set()
    async with websockets.connect(
        f"{url}/_stcore/stream", subprotocols=["streamlit"], additional_headers={"Cookie": cookie}, max_size=None
    ) as ws:
        seen.add(ws.response.headers["X-Explorer-Worker"].split(", ")[-1])
        for _ in range(reruns):
            message = BackMsg()
            message.rerun_script.query_string = query
            await ws.send(message.SerializeToString())
            while True:
                reply = ForwardMsg()
                reply.ParseFromString(await asyncio.wait_for(ws.recv(), 120))
                kind = reply.WhichOneof("type")
                if kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                    assert reply.delta.new_element.WhichOneof("type") != "exception", reply.delta.new_element
                elif kind == "page_info_changed":
                    assert "depth=6" in reply.page_info_changed.query_string
                elif kind == "script_finished":
                    assert reply.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
                    break
    return seen


def _run(coroutine):
    """asyncio.run in a thread of its own: the browser tests' Playwright may own this thread's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass
class Served:
    """``run.py serve`` running: nginx's URL, the workers' ports, and its output as it comes."""

    base: str
    worker_ports: tuple[int, int]
    server: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def read(self) -> None:
        assert self.server.stdout is not None
        for line in self.server.stdout:
            with self.changed:
                self.lines.append(line.rstrip())
                self.changed.notify_all()

    def count(self, pattern: str) -> int:
        with self.changed:
            return sum(bool(re.search(pattern, line)) for line in self.lines)

    def wait_for_count(self, pattern: str, count: int, timeout: float) -> None:
        """Wait up to ``timeout`` s until ``count`` lines of the output match ``pattern``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.count(pattern) < count and time.monotonic() < deadline and self.server.poll() is None:
                self.changed.wait(max(0.0, deadline - time.monotonic()))

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first line of the output matching ``pattern``, waiting up to ``timeout`` s for it."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = next((m for m in map(re.compile(pattern).search, self.lines) if m), None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0 or self.server.poll() is not None:
                    break
                self.changed.wait(left)
        assert found is not None, f"no line matching {pattern!r} in {timeout} s:\n" + "\n".join(self.lines[-40:])
        return found


@pytest.fixture(scope="module")
def served():
    port = free_port_block(3)
    command = [sys.executable, str(ROOT / "run.py"), "serve", "--workers", "2", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--address", "127.0.0.1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Served(f"http://127.0.0.1:{port}", (port + 1, port + 2), server)
    threading.Thread(target=running.read, daemon=True).start()
    deadline = time.time() + 180
    while time.time() < deadline and not all(healthy(p) for p in running.worker_ports):
        if server.poll() is not None:
            pytest.fail("run.py serve stopped:\n" + "\n".join(running.lines[-40:]))
        time.sleep(0.3)
    assert all(healthy(p) for p in running.worker_ports), "the two workers did not start in 180 s"
    try:
        yield running
    finally:
        server.terminate()
        server.wait(timeout=30)
        run_dir = Path(running.wait_for(r"nginx's error log: (\S+)", timeout=1).group(1)).parent
        assert not run_dir.exists(), f"run.py serve left its run folder {run_dir} behind"
        for listening in (port, port + 1, port + 2):  # run.py serve stops its workers and nginx with itself
            deadline = time.time() + 30
            while _listening(listening) and time.time() < deadline:
                time.sleep(0.2)
            assert not _listening(listening), f"something still listens on {listening} after run.py serve stopped"


def test_a_browser_stays_on_one_worker_through_reruns_and_reconnects(served: Served):
    worker, cookie = _get(served.base + "/")
    assert cookie is not None and worker.startswith("127.0.0.1:")
    for _ in range(3):  # the page's own requests carry the cookie: the same worker each time
        again, _ = _get(served.base + "/_stcore/health", cookie)
        assert again == worker
    ws_url = served.base.replace("http://", "ws://")
    for _ in range(2):  # a session, then a reconnect (a new websocket with the same cookie)
        assert _run(_session_on(ws_url, cookie, reruns=2)) == {worker}


def test_new_browsers_spread_over_both_workers(served: Served):
    workers = {_get(served.base + "/_stcore/health")[0] for _ in range(16)}  # no cookie: a new browser each time
    assert len(workers) == 2


def _refused_upload(served: Served, cookie: str, size: int) -> int:
    """PUT ``size`` bytes to an upload URL of no session with ``cookie``; the HTTP status (0: the
    connection was reset before an answer came)."""
    request = urllib.request.Request(
        served.base + "/_stcore/upload_file/no-such-session/no-such-file",
        data=b"\0" * size,
        method="PUT",
        headers={"Cookie": cookie},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as refused:
        return refused.code
    except (urllib.error.URLError, ConnectionError):
        return 0


def test_an_upload_larger_than_nginx_buffers_reaches_the_worker(served: Served):
    """A photo's megabytes pass nginx to the worker (run as root, nginx's workers could not write the
    request to their temporary folder and answered 500 to every upload over 16 KB)."""
    status = _refused_upload(served, "explorer_worker=w1", 2_000_000)
    log = Path(served.wait_for(r"nginx's error log: (\S+)", timeout=10).group(1)).read_text()
    assert "Permission denied" not in log
    # The worker's own refusal (no XSRF token, no session), or, when it refused before nginx had sent
    # the whole body and reset the connection, nginx's 502: either way the body was on its way to it.
    assert status in (400, 403) or (status in (0, 502) and "while sending request to upstream" in log), status


def test_a_refused_upload_leaves_its_worker_in_the_rotation(served: Served):
    """A worker that refuses uploads (here: of no session; in a class, a stale tab's) keeps its
    students: each next request with its cookie is answered by it, not by its backup. (With the
    pages' max_fails=1 for uploads too, a refusal that reset the connection mid-body took the worker
    out for 5 s and moved its students to the other worker.)"""
    first, _ = served.worker_ports
    error_log = Path(served.wait_for(r"nginx's error log: (\S+)", timeout=10).group(1))
    seen = len(error_log.read_bytes())
    statuses = []
    for _ in range(4):
        statuses.append(_refused_upload(served, "explorer_worker=w1", 8_000_000))
        worker, cookie = _get(served.base + "/_stcore/health", "explorer_worker=w1")
        assert (worker, cookie) == (f"127.0.0.1:{first}", "explorer_worker=w1"), statuses
    assert all(status in (0, 400, 403, 502) for status in statuses), statuses
    assert b"temporarily disabled" not in error_log.read_bytes()[seen:]


def test_a_killed_worker_is_started_again_and_its_students_answered_meanwhile(served: Served):
    first, second = served.worker_ports
    pid = int(served.wait_for(rf"worker 1 \(127\.0\.0\.1:{first}\) started, process (\d+)", timeout=10).group(1))
    worker, cookie = _get(served.base + "/", "explorer_worker=w1")
    assert worker == f"127.0.0.1:{first}" and cookie == "explorer_worker=w1"
    arenas = os.environ.get("MALLOC_ARENA_MAX", "2")  # serve's default for its workers (run.py: WORKER_MALLOC_ARENAS)
    assert f"MALLOC_ARENA_MAX={arenas}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer does
    served.wait_for(rf"worker 1 \(127\.0\.0\.1:{first}\) stopped \(killed by SIGKILL\)", timeout=30)
    # Its student's next request, and the reconnect of its page: answered by the other worker, whose
    # cookie the browser then keeps; the page reruns from its URL, with its design.
    worker, moved = _get(served.base + "/", cookie)
    assert worker.split(", ")[-1] == f"127.0.0.1:{second}" and moved == "explorer_worker=w2"
    ws_url = served.base.replace("http://", "ws://")
    assert _run(_session_on(ws_url, cookie, reruns=1, query="family=plain&depth=6&width=8")) == {f"127.0.0.1:{second}"}
    # The worker comes back (a fresh process on the same port), and serve keeps running.
    again = served.wait_for(rf"worker 1 \(127\.0\.0\.1:{first}\) started again \(restart 1, process (\d+)\)", 60)
    assert int(again.group(1)) != pid
    deadline = time.monotonic() + 120
    while not healthy(first) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert healthy(first) and served.server.poll() is None
    # It warmed up before it listened: three warm-up lines in the log (two at the start, one now), none
    # failed (a failed warm-up says why, and its worker still listens). Three processes (serve, the
    # workers) write into one pipe: a report goes out in one write (tests/test_warm_report.py); when
    # print() wrote its text and newline apart, two reports once in about 20 runs read as one line.
    served.wait_for(r"ready: students open", timeout=10)
    reports = r"\[explorer\] warm(: torch, torchvision, captum and \d+ library modules| ?-up failed)"
    served.wait_for_count(reports, 3, timeout=60)  # the restarted worker's line may still be in the pipe
    tail = "\n".join(served.lines[-40:])
    assert served.count(r"warm-up failed") == 0, tail
    assert served.count(r"\[explorer\] warm: torch, torchvision, captum and \d+ library modules") == 3, tail
