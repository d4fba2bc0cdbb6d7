"""A class arriving at once at a fresh server: twelve sessions open their first pages at the same
instant, before the server has run any page. Plotly looks numpy and pandas up in ``sys.modules``
instead of importing them, so a session could be handed a module another session's thread was still
importing (``partially initialized module 'numpy' has no attribute 'ndarray'``, 2 of 12 students on
main, issue 35); the app imports them whole first (explorer.runtime.warm). Each session is a
websocket client speaking Streamlit's protocol, as the browser's frontend does."""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from explorer.runtime.ports import free_port

ROOT = Path(__file__).resolve().parents[1]
STUDENTS = 12
#: Stored presets: the Build page draws them from stored profiles, as a fresh server's first pages do.
LINKS = ("preset=resnet18", "preset=resnet50", "preset=mobilenet_v2", "preset=densenet121")
pytestmark = pytest.mark.slow


@pytest.fixture()
def fresh_server():
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    options = ["--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    server = subprocess.Popen([*command, *options], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start in 120 s")
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


async def _class_at_once(url: str) -> list[tuple[str, list[str]]]:
    """Connect every student, then send every first rerun at once; per student: how its run ended
    and the exceptions its page showed."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.typing import Subprotocol

    sockets = await asyncio.gather(
        *(
            websockets.connect(
                f"{url}/_stcore/stream", subprotocols=[Subprotocol("streamlit")], max_size=None, open_timeout=60
            )
            for _ in range(STUDENTS)
        )
    )

    async def first_page(ws: websockets.ClientConnection) -> tuple[str, list[str]]:
        exceptions: list[str] = []
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(await asyncio.wait_for(ws.recv(), 240))
            kind = reply.WhichOneof("type")
            if kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                element = reply.delta.new_element
                if element.WhichOneof("type") == "exception":
                    exceptions.append(f"{element.exception.type}: {element.exception.message}")
            elif kind == "script_finished" and reply.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return ForwardMsg.ScriptFinishedStatus.Name(reply.script_finished), exceptions

    try:
        messages = []
        for i in range(STUDENTS):
            message = BackMsg()
            message.rerun_script.query_string = LINKS[i % len(LINKS)]
            messages.append(message.SerializeToString())
        await asyncio.gather(*(ws.send(m) for ws, m in zip(sockets, messages, strict=True)))
        return list(await asyncio.gather(*(first_page(ws) for ws in sockets)))
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))


def test_twelve_students_opening_a_fresh_server_at_once_see_no_exception(fresh_server: str) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # a loop of its own: Playwright may own this thread's
        results = pool.submit(asyncio.run, _class_at_once(fresh_server)).result()
    assert len(results) == STUDENTS
    assert [exceptions for _, exceptions in results] == [[]] * STUDENTS
    assert [status for status, _ in results] == ["FINISHED_SUCCESSFULLY"] * STUDENTS
