"""Fixtures for real-browser tests: ``streamlit run app.py`` driven by Playwright and Chromium.

Fixtures:
    app_url       (session) base URL of a headless ``streamlit run app.py`` on a free port.
    streamlit_server  the context manager ``streamlit_server(env=None)``: a fresh server of a test's own.
    browser       (session) Chromium from the system (``/usr/bin/chromium``), never ``playwright install``.
    page          (function) a fresh 1400x1000 page in its own browser context.
    wait_for_app  the function ``wait_for_app(page, timeout=...)``: returns once Streamlit is connected and
                  no script run is in progress (call it after ``page.goto`` and after every click).
    open_app      the function ``open_app(path="", timeout=...)``: ``page.goto(app_url + path)`` then
                  ``wait_for_app``; returns the page.

Without Chromium the tests here are skipped with a reason, except under CI (env ``CI`` set), where a
missing browser is a failure so that CI cannot pass by skipping them. Every test in this folder gets
the ``browser`` marker, so ``pytest -m "not browser"`` leaves them out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from explorer.runtime.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SERVER_START_TIMEOUT_S = 60.0
APP_RUN_TIMEOUT_S = 60.0
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# True once Streamlit is connected, the script is not running (or failed to compile) and nothing on
# screen is a loading skeleton or a stale element left from the previous run. The attributes are the
# ones Streamlit's own end-to-end tests wait on (checked against streamlit 1.67's DOM).
_APP_IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
  const state = app.getAttribute('data-test-script-state');
  if (state !== 'notRunning' && state !== 'compilationError') return false;
  const ws = window.__explorerWebsocket;  // see _WEBSOCKET_TIMES_JS
  if (ws && ws.sent > ws.received && performance.now() - ws.sent < 5000) return false;
  return !document.querySelector(
    '[data-testid="stStatusWidgetRunningIcon"], [data-testid="stSkeleton"], [data-stale="true"]'
  );
}"""

# A widget change reruns the script through a websocket message, and the page shows no sign of it
# (its script state stays 'notRunning') until the server answers: on a busy machine that can take
# longer than any fixed grace period. Every page of the tests records when it last sent and received
# a websocket message, and the page counts as idle only once the server has answered the last message
# sent (or 5 s have passed: a message that gets no answer must not hang the tests).
_WEBSOCKET_TIMES_JS = """(() => {
  const Native = window.WebSocket;
  const times = (window.__explorerWebsocket = { sent: 0, received: 0 });
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', () => { times.received = performance.now(); });
    }
    send(data) {
      times.sent = performance.now();
      return super.send(data);
    }
  };
})();"""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def chromium_executable() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output captured)"


def _health_ok(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def streamlit_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """A fresh ``streamlit run app.py`` (headless, free port) for the ``with`` body; yields its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        # Others may edit files while the tests run; no watcher, no "source changed" banners.
        "--server.fileWatcherType",
        "none",
    ]
    log_dir = Path(tempfile.mkdtemp(prefix="streamlit-browser-tests-"))
    log_path = log_dir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _health_ok(base_url):
            if process.poll() is not None:
                pytest.fail(
                    f"streamlit exited with code {process.returncode} before answering {base_url}/_stcore/health;"
                    f" its output:\n{_tail(log_path)}",
                    pytrace=False,
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit did not answer {base_url}/_stcore/health within {SERVER_START_TIMEOUT_S:.0f} s;"
                    f" its output:\n{_tail(log_path)}",
                    pytrace=False,
                )
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(log_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def app_url() -> Iterator[str]:
    """Start ``streamlit run app.py`` headless on a free port; yield its base URL; stop it afterwards."""
    # One server for every test: a training a finished test left running (its tab closed, the
    # session kept for a reconnect) must not hold the next test in the slow-work queue.
    with streamlit_server({"EXPLORER_SLOW_SLOTS": "8"}) as base_url:
        yield base_url


@pytest.fixture(name="streamlit_server")
def streamlit_server_fixture() -> Callable[..., Any]:
    """The :func:`streamlit_server` context manager, for tests that need a fresh server of their own."""
    return streamlit_server


@pytest.fixture(scope="session")
def browser():
    """System Chromium through Playwright; skipped without it (failed under CI)."""
    executable = chromium_executable()
    if executable is None:
        message = "Chromium not found (/usr/bin/chromium or 'chromium' on PATH); install Debian's 'chromium'"
        if _in_ci():
            pytest.fail(f"{message}. CI is set, so browser tests must not be skipped.", pytrace=False)
        pytest.skip(f"{message} to run the browser tests")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        launched_context = chromium.new_context

        def new_context(**options: Any) -> Any:
            """Every context a test opens records its websocket times (see _WEBSOCKET_TIMES_JS)."""
            context = launched_context(**options)
            context.add_init_script(_WEBSOCKET_TIMES_JS)
            return context

        chromium.new_context = new_context  # type: ignore[method-assign]  # instrument, same signature
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser):
    """A fresh page (own context: no cookies or storage shared between tests), 1400x1000."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context.new_page()
    finally:
        context.close()


def wait_for_app(page, timeout: float = APP_RUN_TIMEOUT_S) -> None:
    """Wait until Streamlit is connected and has finished running the script.

    The idle state must hold for two checks 0.3 s apart: right after a click the front end may not
    have flagged the rerun yet. Fails with the app's current script state on timeout.
    """
    deadline = time.monotonic() + timeout
    idle_since: float | None = None
    while True:
        now = time.monotonic()
        if page.evaluate(_APP_IDLE_JS):
            if idle_since is None:
                idle_since = now
            elif now - idle_since >= 0.3:
                return
        else:
            idle_since = None
        if now > deadline:
            app = page.locator('[data-testid="stApp"]')
            state = (
                f"script state {app.get_attribute('data-test-script-state')!r}, "
                f"connection {app.get_attribute('data-test-connection-state')!r}"
                if app.count()
                else "no stApp element"
            )
            pytest.fail(f"Streamlit still busy after {timeout:.0f} s at {page.url} ({state})", pytrace=False)
        page.wait_for_timeout(100)


@pytest.fixture(name="wait_for_app")
def wait_for_app_fixture() -> Callable[..., None]:
    """The :func:`wait_for_app` function, for tests (conftest modules are not meant to be imported)."""
    return wait_for_app


@pytest.fixture
def open_app(page, app_url: str) -> Callable[..., object]:
    """``open_app(path="", timeout=...)``: go to ``app_url + path`` (e.g. ``"/build?preset=resnet50"``), wait."""

    def _open(path: str = "", timeout: float = APP_RUN_TIMEOUT_S):
        page.goto(app_url + path)
        wait_for_app(page, timeout=timeout)
        return page

    return _open
