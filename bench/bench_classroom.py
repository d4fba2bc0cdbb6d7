"""A class on one server: N simulated students over Streamlit's own websocket protocol.

    python bench/bench_classroom.py [--students 1,10,30] [--scenario teacher|explore|both]
                                    [--moves 3] [--pace 3] [--url ws://host:port] [--browsers 5]
                                    [--worker --arrive-after 60]

Each student is a websocket client speaking Streamlit's protobuf messages (``BackMsg`` /
``ForwardMsg`` from ``streamlit.proto``), as the browser's frontend does, but without a browser, so
30 or more fit on a 2-core machine. A student opens a Build-page link (a ``rerun_script`` with the
link's query string), waits for ``script_finished``, then moves a slider ``--moves`` times at a human
pace (``--pace`` seconds between moves, +-50 %): each move sends the slider's new value as a widget
state, exactly what the frontend sends. Students start 0 to 2 s apart.

Scenarios: ``teacher`` (the class follows the teacher: everyone opens ResNet-50 and moves its depth
slider the same way) and ``explore`` (every student on a config of their own, moving its slider).

Reported per N and scenario: p50 / p95 of open-a-link and of slider-move -> script finished (the
time a student waits for the page to settle), errors (exceptions shown on the page, failed or
timed-out runs), and the server's peak RSS (VmHWM; only when the bench starts the server itself).
One untimed student opens a link first (then a config that is not stored, which imports torch and the
model families as a browser's first page does through the device picker's start-up fragment), so
the server's own imports are not in the figures.
``--worker`` starts the server as ``run.py serve`` starts each of its workers (``deploy/worker.py``: warmed
up before it listens) and runs no untimed student first: the class arrives ``--arrive-after`` seconds
after the worker answers, at a server no one has opened yet (issue 35's "class right after start").
``--browsers K`` also runs a browser-level check: K headless Chromium tabs (Playwright with Debian's
/usr/bin/chromium) each open a link and move a slider, timed to the page settling.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from explorer.runtime.ports import free_port  # noqa: E402  (after the path)

PYTHON = sys.executable
RUN_TIMEOUT_S = 180.0
#: (link, knob whose slider the student moves): the "explore" scenario cycles through these.
EXPLORE = (
    ("preset=resnet18", "width"),
    ("preset=resnet50", "depth"),
    ("preset=densenet121", "k"),
    ("preset=mobilenet_v2", "alpha"),
    ("preset=efficientnet_b0", "phi"),
    ("preset=vgg16", "depth"),
    ("family=plain&depth=20", "depth"),
    ("preset=resnet34", "width"),
    ("preset=mobilenet_v3_large", "alpha"),
    ("preset=resnet101", "depth"),
)
TEACHER = ("preset=resnet50", "depth")
#: A config no preset stores: opening it imports torch and the model families, as a browser's first page does.
WARM_UP = "preset=resnet50&width=60"


@dataclass
class Student:
    opens: list[float] = field(default_factory=list)
    moves: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Slider:
    id: str
    options: list[str]
    value: list[float] | list[str]
    low: float
    high: float
    step: float


class Session:
    """One browser tab's worth of protocol: rerun requests out, ForwardMsgs in."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.query = ""
        self.sliders: dict[str, Slider] = {}
        self.exceptions: list[str] = []

    async def rerun(self, query: str, widget: BackMsg | None = None) -> float:
        """Send a rerun (optionally with one widget's new state); return seconds to script_finished."""
        message = widget or BackMsg()
        message.rerun_script.query_string = query
        start = time.perf_counter()
        await self.ws.send(message.SerializeToString())
        await asyncio.wait_for(self._until_finished(), RUN_TIMEOUT_S)
        return time.perf_counter() - start

    async def _until_finished(self) -> None:
        while True:
            raw = await self.ws.recv()
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "page_info_changed":
                self.query = msg.page_info_changed.query_string
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                which = element.WhichOneof("type")
                if which == "exception":
                    self.exceptions.append(element.exception.message[:200])
                elif which == "slider":
                    self._remember(element.slider)
            elif kind == "script_finished":
                status = msg.script_finished
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    self.exceptions.append("compile error")
                if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR):
                    return

    def _remember(self, proto) -> None:  # streamlit.proto.Slider
        key = proto.id.rsplit("-", 1)[-1]  # element ids end with the widget's user key
        options = list(proto.options)
        if options:  # a select_slider: the value set through session state is the formatted raw_value
            value: list[float] | list[str] = list(proto.raw_value) or [options[int(i)] for i in proto.default]
        else:
            value = list(proto.value) if proto.set_value and proto.value else list(proto.default)
        self.sliders[key] = Slider(proto.id, options, value, proto.min, proto.max, proto.step)

    def moved(self, knob: str, rng: random.Random) -> BackMsg:
        """The BackMsg of moving ``knob``'s slider one step (up, or down at the top)."""
        name = next((k for k in self.sliders if k.startswith("knob.") and k.split(".")[2].split("@")[0] == knob), None)
        if name is None:
            raise LookupError(f"no slider for '{knob}' on the page (have {sorted(self.sliders)})")
        slider = self.sliders[name]
        message = BackMsg()
        state = message.rerun_script.widget_states.widgets.add()
        state.id = slider.id
        if slider.options:
            index = slider.options.index(str(slider.value[0]))
            index = index + 1 if index + 1 < len(slider.options) else index - 1
            slider.value = [slider.options[index]]
            state.string_array_value.data.extend(slider.value)
        else:
            up = float(slider.value[0]) + slider.step
            new = up if up <= slider.high else float(slider.value[0]) - slider.step
            slider.value = [new]
            state.double_array_value.data.extend(slider.value)
        return message


async def student(url: str, link: str, knob: str, moves: int, pace: float, delay: float, seed: int) -> Student:
    rng = random.Random(seed)
    result = Student()
    await asyncio.sleep(delay)
    try:
        async with websockets.connect(
            f"{url}/_stcore/stream", subprotocols=["streamlit"], max_size=None, open_timeout=60, ping_interval=None
        ) as ws:
            session = Session(ws)
            result.opens.append(await session.rerun(link))
            for _ in range(moves):
                await asyncio.sleep(pace * rng.uniform(0.5, 1.5))
                result.moves.append(await session.rerun(session.query or link, session.moved(knob, rng)))
            result.errors.extend(session.exceptions)
    except (OSError, TimeoutError, LookupError, websockets.WebSocketException) as error:
        result.errors.append(f"{type(error).__name__}: {error}")
    return result


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def explore_plan(i: int) -> tuple[str, str]:
    """Student ``i``'s own link: the presets in turn, then the same at 10 %, 20 %, ... smaller inputs,
    so that no two students of a class share a config."""
    link, knob = EXPLORE[i % len(EXPLORE)]
    shrink = i // len(EXPLORE)
    if shrink:
        from explorer.config import parse_query

        side = parse_query(link).input_resolution
        link += f"&resolution={round(side * (1 - 0.1 * shrink))}"
    return link, knob


async def run_class(url: str, n: int, scenario: str, moves: int, pace: float) -> list[Student]:
    plans = [TEACHER if scenario == "teacher" else explore_plan(i) for i in range(n)]
    tasks = [
        student(url, link, knob, moves, pace, delay=random.Random(i).uniform(0, 2), seed=i)
        for i, (link, knob) in enumerate(plans)
    ]
    return await asyncio.gather(*tasks)


def start_server(worker: bool = False) -> tuple[subprocess.Popen, str]:
    port = free_port()
    program = [str(ROOT / "deploy" / "worker.py")] if worker else ["-m", "streamlit", "run", "app.py"]
    server = subprocess.Popen(
        [PYTHON, *program, "--server.headless", "true", "--server.port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import urllib.request

    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).read()
            return server, f"ws://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start in 120 s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def browsers(http_url: str, tabs: int) -> None:
    """K Chromium tabs at once: open a link, move the depth slider with the keyboard, page settled."""
    from playwright.sync_api import sync_playwright

    from explorer.config import parse_query

    idle = (
        "() => { const a = document.querySelector('[data-testid=\"stApp\"]');"
        " return a && a.getAttribute('data-test-script-state') === 'notRunning'"
        " && !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]'); }"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        pages = [browser.new_page() for _ in range(tabs)]
        start = time.perf_counter()
        for i, page in enumerate(pages):
            page.goto(f"{http_url}/?{EXPLORE[i % len(EXPLORE)][0]}", wait_until="commit")
        opened = []
        for page in pages:
            page.wait_for_function(idle, timeout=300_000)
            opened.append(time.perf_counter() - start)
        settled = []
        for i, page in enumerate(pages):  # the knob's slider thumb (a range input), as the browser tests find it
            link, knob = EXPLORE[i % len(EXPLORE)]
            key = f"st-key-knob-{parse_query(link).family}-{knob}"  # "-auto-N" follows a derived knob's key
            thumb = page.locator(f'.{key} input[type="range"], [class*="{key}-auto"] input[type="range"]')
            thumb.first.focus(timeout=120_000)
            page.keyboard.press("ArrowRight")
        moved = time.perf_counter()
        for page in pages:
            page.wait_for_timeout(300)
            page.wait_for_function(idle, timeout=300_000)
            settled.append(time.perf_counter() - moved)
        browser.close()
    print(f"browsers {tabs}: open p50 {_percentile(opened, 0.5):.1f} s, slider move -> settled "
          f"p50 {_percentile(settled, 0.5):.1f} s, p95 {_percentile(settled, 0.95):.1f} s")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", default="1,10,30")
    parser.add_argument("--scenario", choices=("teacher", "explore", "both"), default="both")
    parser.add_argument("--moves", type=int, default=3)
    parser.add_argument("--pace", type=float, default=3.0, help="seconds between a student's moves (+-50%%)")
    parser.add_argument("--url", help="ws://host:port of a running server (default: start one)")
    parser.add_argument("--browsers", type=int, default=0, help="also time K Chromium tabs (0: no browsers)")
    parser.add_argument(
        "--worker", action="store_true", help="start a class worker (deploy/worker.py), no untimed student"
    )
    parser.add_argument("--arrive-after", type=float, default=60.0, help="with --worker: seconds before the class")
    args = parser.parse_args()
    server, url = (None, args.url) if args.url else start_server(args.worker)
    scenarios = ("teacher", "explore") if args.scenario == "both" else (args.scenario,)
    print(f"# {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; server {url}")
    print(f"{'students':>8} {'scenario':<8} {'open p50':>9} {'open p95':>9} {'move p50':>9} {'move p95':>9} "
          f"{'errors':>6} {'peak RSS':>9}")  # fmt: skip
    try:
        # Warm-up, untimed: the teacher's tab. A browser's first page runs the device picker's start-up
        # fragment (torch and the model families imported); these clients run no fragment timers, so the
        # warm-up opens a config that is not stored, which imports the same.
        if args.worker:
            time.sleep(args.arrive_after)
        else:
            asyncio.run(student(url, *TEACHER, moves=0, pace=0, delay=0, seed=-1))
            asyncio.run(student(url, WARM_UP, "depth", moves=0, pace=0, delay=0, seed=-2))
        for n in (int(x) for x in args.students.split(",")):
            for scenario in scenarios:
                results = asyncio.run(run_class(url, n, scenario, args.moves, args.pace))
                opens = [t for r in results for t in r.opens]
                moves = [t for r in results for t in r.moves]
                errors = [e for r in results for e in r.errors]
                rss = f"{peak_rss_mb(server.pid):.0f} MB" if server else "-"
                print(
                    f"{n:>8} {scenario:<8} {_percentile(opens, 0.5):>8.2f}s {_percentile(opens, 0.95):>8.2f}s "
                    f"{_percentile(moves, 0.5):>8.2f}s {_percentile(moves, 0.95):>8.2f}s {len(errors):>6} {rss:>9}",
                    flush=True,
                )
                for error in sorted(set(errors))[:3]:
                    print(f"    error: {error}")
        if args.browsers:
            browsers(url.replace("ws://", "http://"), args.browsers)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
