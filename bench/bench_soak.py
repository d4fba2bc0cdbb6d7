"""A whole lesson on ``run.py serve``: memory, latency and errors of a class over time, one worker killed halfway.

    python bench/bench_soak.py [--minutes 60] [--students 30] [--workers 2] [--uploaders 3] [--trainers 2]
                               [--photo-mb 16] [--kill-at 0.5] [--windows 12] [--pace 3]

Starts ``python3 run.py serve --workers W`` (nginx needed) and a class of websocket students speaking
Streamlit's protocol as the browser's frontend does (``bench_classroom.py``), each with the sticky
cookie nginx gives a browser. Half the students follow the teacher (the same link, which changes every
few minutes, and the same slider moves), half explore a design of their own; each opens a link,
moves its slider a few times at a human pace (``--pace`` s +-50 %), reads for a while and opens the
next. ``--uploaders`` of them upload a different photo of about ``--photo-mb`` MB to the Saliency page
every few minutes (Streamlit's upload protocol: a file-URL request over the websocket, the PUT, the
uploader's new state) and wait for its map; ``--trainers`` train the Deformable page's offsets (its
default 30 steps) every few minutes. At ``--kill-at`` of the lesson one worker is killed with SIGKILL
(as the out-of-memory killer does): its students' websockets drop, they reconnect with the same
cookie (nginx sends them to another worker) and rerun their page from its URL, as the browser does.

Printed per window of the lesson (``--windows`` of them): p50 / p95 of opening a link and of a slider
move settling, photo maps and trainings done, exceptions shown on pages and failed runs, and the
workers' memory (VmRSS from /proc, each worker's, at the window's end and the median of the samples
taken every 5 s in the window). At the end: the memory's growth after the first sixth of the lesson
(10 minutes of 60) over the spans in which each worker holds the same students, window median against
window median (:func:`memory_growth`), what the workers keep 30 s after the class has left, how many
killed students came back and how long that took, and whether ``serve`` is still running.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets
from bench_classroom import explore_plan
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from explorer.runtime.ports import free_port_block, healthy  # importable: bench_classroom puts the root on sys.path
from explorer.runtime.release import TRIM_SETTING, trim_period

ROOT = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_S = 240.0
#: The teacher's links in turn (a new one every few minutes) and the knob the class moves on each.
TEACHER_LINKS = (
    ("preset=resnet50", "depth"),
    ("preset=mobilenet_v2", "alpha"),
    ("preset=efficientnet_b0", "phi"),
    ("preset=densenet121", "k"),
)
TEACHER_EVERY_S = 240.0
UPLOAD_EVERY_S = 180.0
TRAIN_EVERY_S = 300.0
#: Seconds after the class has left before the last reading of the workers' memory.
IDLE_READING_S = 30.0


@dataclass
class Figures:
    """What the class saw, each figure with the moment (s since the lesson began) it was taken."""

    opens: list[tuple[float, float]] = field(default_factory=list)
    moves: list[tuple[float, float]] = field(default_factory=list)
    maps: list[tuple[float, float]] = field(default_factory=list)
    trainings: list[tuple[float, float]] = field(default_factory=list)
    exceptions: list[tuple[float, str]] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    dropped: dict[int, float] = field(default_factory=dict)  # student -> when its websocket dropped
    back: dict[int, float] = field(default_factory=dict)  # student -> seconds until its page was back


class Tab:
    """One browser tab's protocol: reruns with the widget states it holds, ForwardMsgs read back."""

    def __init__(self, ws: websockets.ClientConnection, cookie: str) -> None:
        self.ws, self.cookie = ws, cookie
        self.session_id = ""
        self.query, self.page = "", ""
        self.widgets: dict[str, tuple[str, Any]] = {}  # user key -> (element type, its proto)
        self.held: dict[str, WidgetState] = {}  # widget id -> the state this tab keeps sending
        self.exceptions: list[str] = []
        self.captions: list[str] = []
        self.file_urls: dict[str, Any] = {}

    async def rerun(self, query: str, page: str = "", *once: WidgetState) -> float:
        """Run the page ``page`` with ``query``, the held widget states and ``once``; seconds to its end."""
        message = BackMsg()
        message.rerun_script.query_string = query
        message.rerun_script.page_name = page
        states = {**self.held, **{state.id: state for state in once}}
        message.rerun_script.widget_states.widgets.extend(states.values())
        self.captions, self.widgets, self.page = [], {}, page
        start = time.perf_counter()
        await self.ws.send(message.SerializeToString())
        await asyncio.wait_for(self._until(lambda kind: kind == "finished"), RUN_TIMEOUT_S)
        return time.perf_counter() - start

    async def _until(self, done: Any) -> None:
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await self.ws.recv())
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.session_id = msg.new_session.initialize.session_id
            elif kind == "page_info_changed":
                self.query = msg.page_info_changed.query_string
            elif kind == "file_urls_response":
                self.file_urls[msg.file_urls_response.response_id] = msg.file_urls_response
                if done("urls"):
                    return
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element)
            elif kind == "script_finished":
                status = msg.script_finished
                if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    self.exceptions.append("compile error")
                if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR) and done(
                    "finished"
                ):
                    return

    def _element(self, element: Any) -> None:
        which = element.WhichOneof("type")
        if which == "exception":
            self.exceptions.append(f"{element.exception.type}: {element.exception.message[:160]}")
        elif which == "imgs":
            self.captions += [image.caption for image in element.imgs.imgs]
        proto = getattr(element, which, None)
        widget_id = getattr(proto, "id", "")
        if isinstance(widget_id, str) and widget_id.startswith("$$ID"):
            self.widgets[widget_id.split("-", 2)[-1]] = (which, proto)

    def widget(self, prefix: str, kind: str) -> Any:
        for key, (which, proto) in self.widgets.items():
            if which == kind and key.startswith(prefix):
                return proto
        raise LookupError(f"no {kind} '{prefix}...' on the page (have {sorted(self.widgets)})")

    def slider_move(self, knob: str) -> WidgetState:
        """The state of ``knob``'s slider moved one step (up, or down at the top)."""
        sliders = [k for k in self.widgets if k.startswith("knob.") and self.widgets[k][0] == "slider"]
        name = next((k for k in sliders if k.split(".")[2].split("@")[0] == knob), None)
        if name is None:  # the design has no such knob (another block type, a shrunken input): move another
            name = sliders[0] if sliders else None
        if name is None:
            raise LookupError(f"no slider for '{knob}' on the page")
        proto = self.widgets[name][1]
        state = WidgetState(id=proto.id)
        options = list(proto.options)
        if options:
            value = list(proto.raw_value) or [options[int(i)] for i in proto.default]
            index = options.index(str(value[0]))
            index = index + 1 if index + 1 < len(options) else index - 1
            state.string_array_value.data.append(options[index])
        else:
            current = float((list(proto.value) if proto.set_value and proto.value else list(proto.default))[0])
            up = current + proto.step
            state.double_array_value.data.append(up if up <= proto.max else current - proto.step)
        return state

    def choose(self, prefix: str, words: str) -> None:
        """Hold the radio ``prefix...`` on its first option containing ``words``."""
        radio = self.widget(prefix, "radio")
        label = next(label for label in radio.options if words in label)
        self.held[radio.id] = WidgetState(id=radio.id, string_value=label)  # a radio's state is its label

    def press(self, prefix: str) -> WidgetState:
        return WidgetState(id=self.widget(prefix, "button").id, trigger_value=True)

    async def upload(self, http_base: str, name: str, data: bytes) -> WidgetState:
        """Upload ``data`` as the frontend does; the uploader's new state (sent with the next rerun)."""
        uploader = self.widget("saliency.upload", "file_uploader")
        request_id = uuid.uuid4().hex
        message = BackMsg()
        message.file_urls_request.request_id = request_id
        message.file_urls_request.file_names.append(name)
        message.file_urls_request.session_id = self.session_id
        await self.ws.send(message.SerializeToString())
        await asyncio.wait_for(self._until(lambda kind: kind == "urls" and request_id in self.file_urls), 60)
        urls = self.file_urls.pop(request_id).file_urls[0]
        await asyncio.to_thread(_put, http_base + urls.upload_url, self.cookie, name, data)
        state = WidgetState(id=uploader.id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.file_id, info.name, info.size = urls.file_id, name, len(data)
        info.file_urls.CopyFrom(urls)
        return state


def _put(url: str, cookie: str, name: str, data: bytes) -> None:
    """The upload's PUT (multipart, as the frontend sends it), with an XSRF token as cookie and header."""
    from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

    token = generate_xsrf_token_string()
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Cookie": f"{cookie}; _streamlit_xsrf={token}",
        "X-Xsrftoken": token,
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="PUT")
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()


def photo_png(mb: float, seed: int) -> bytes:
    """A noise PNG of about ``mb`` MB (noise barely compresses): a phone photo's size, every one different."""
    import numpy as np
    from PIL import Image

    side = int((mb * 1_000_000 / 3) ** 0.5)
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


@dataclass
class Lesson:
    """The lesson's clock and settings, shared by every student."""

    http: str
    ws: str
    start: float
    end: float
    pace: float
    photo_mb: float
    figures: Figures

    def now(self) -> float:
        return time.monotonic() - self.start

    def over(self) -> bool:
        return time.monotonic() >= self.end

    def teacher_link(self) -> tuple[str, str]:
        return TEACHER_LINKS[int(self.now() // TEACHER_EVERY_S) % len(TEACHER_LINKS)]


async def _settle(lesson: Lesson, seconds: float) -> None:
    await asyncio.sleep(max(0.0, min(seconds, lesson.end - time.monotonic())))


async def student(lesson: Lesson, i: int, role: str) -> None:
    """One student for the whole lesson: connect, work, and on a dropped websocket reconnect and go on."""
    rng = random.Random(i)
    figures = lesson.figures
    await asyncio.sleep(rng.uniform(0, 5))
    cookie = await asyncio.to_thread(_cookie, lesson.http, "")
    tab: Tab | None = None
    while not lesson.over():
        try:
            async with websockets.connect(
                f"{lesson.ws}/_stcore/stream",
                subprotocols=["streamlit"],
                additional_headers={"Cookie": cookie},
                max_size=None,
                open_timeout=60,
                ping_interval=None,
            ) as ws:
                last = tab
                tab = Tab(ws, cookie)
                if last is not None and i in figures.dropped and i not in figures.back:
                    await tab.rerun(last.query, last.page)  # the browser reruns its page from its URL
                    figures.back[i] = lesson.now() - figures.dropped[i]
                await work(lesson, tab, i, role, rng)
                return
        except websockets.ConnectionClosed:
            figures.dropped.setdefault(i, lesson.now())
            figures.failures.append((lesson.now(), "websocket closed"))
            cookie = await asyncio.to_thread(_cookie, lesson.http, cookie)
        except (OSError, TimeoutError, LookupError, websockets.WebSocketException) as error:
            figures.failures.append((lesson.now(), f"{type(error).__name__}: {error}"[:200]))
            await _settle(lesson, 5)
        finally:
            if tab is not None:
                figures.exceptions += [(lesson.now(), e) for e in tab.exceptions]
                tab.exceptions.clear()


def _cookie(http: str, cookie: str) -> str:
    """The sticky cookie a browser holds after its next page request (with ``cookie``, or none: a new
    browser): the worker that answered it, another one where that browser's worker is down."""
    request = urllib.request.Request(http + "/", headers={"Cookie": cookie} if cookie else {})
    for _ in range(30):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                cookies = [c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or []]
            return next((c for c in cookies if c.startswith("explorer_worker=w")), cookie)
        except OSError:
            time.sleep(1)
    return cookie


async def work(lesson: Lesson, tab: Tab, i: int, role: str, rng: random.Random) -> None:
    figures = lesson.figures
    next_special = lesson.now() + rng.uniform(20, 90)
    links = 0
    while not lesson.over():
        if role in ("upload", "train") and lesson.now() >= next_special:
            taken = await (upload_photo(lesson, tab, i, links) if role == "upload" else train(lesson, tab))
            (figures.maps if role == "upload" else figures.trainings).append((lesson.now(), taken))
            next_special = lesson.now() + (UPLOAD_EVERY_S if role == "upload" else TRAIN_EVERY_S) * rng.uniform(
                0.7, 1.3
            )
            tab.held.clear()
        link, knob = lesson.teacher_link() if role == "follow" else explore_plan((i + links * 7) % 40)
        figures.opens.append((lesson.now(), await tab.rerun(link)))
        for _ in range(3):
            await _settle(lesson, lesson.pace * rng.uniform(0.5, 1.5))
            if lesson.over():
                break
            figures.moves.append((lesson.now(), await tab.rerun(tab.query or link, "", tab.slider_move(knob))))
        figures.exceptions += [(lesson.now(), e) for e in tab.exceptions]
        tab.exceptions.clear()
        links += 1
        await _settle(lesson, rng.uniform(5, 15))  # reading, talking


async def upload_photo(lesson: Lesson, tab: Tab, i: int, n: int) -> float:
    """Saliency, image from an upload: a new photo, until its map (the overlay) is shown."""
    await tab.rerun("preset=resnet18", "saliency")
    tab.choose("saliency.image_source", "Upload")
    await tab.rerun(tab.query, "saliency")
    data = await asyncio.to_thread(photo_png, lesson.photo_mb, 1000 * i + n)
    start = time.perf_counter()
    state = await tab.upload(lesson.http, f"photo{i}-{n}.png", data)
    await tab.rerun(tab.query, "saliency", state)
    if not any(c.startswith("Overlay:") for c in tab.captions):
        raise LookupError("no map after the photo's upload")
    return time.perf_counter() - start


async def train(lesson: Lesson, tab: Tab) -> float:
    """Deformable, weights trained here: press Train (its default steps), until the page is back."""
    await tab.rerun("", "deform")
    if "deform.use_default" in tab.widgets:  # the session's design has no deformable layers: the page's own
        await tab.rerun(tab.query, "deform", tab.press("deform.use_default"))
    tab.choose("deform.weights", "rain")
    await tab.rerun(tab.query, "deform")
    return await tab.rerun(tab.query, "deform", tab.press("deform.train"))


# -- the server ---------------------------------------------------------------------------------------
class Serve:
    """``run.py serve`` started by the bench: its ports, and the workers' process ids from its output."""

    def __init__(self, workers: int, trim: bool = True) -> None:
        self.port = free_port_block(workers + 1)
        command = [sys.executable, str(ROOT / "run.py"), "serve", "--workers", str(workers), "--port", str(self.port)]
        env = os.environ | ({} if trim else {TRIM_SETTING: "0"})  # the workers inherit it
        self.process = subprocess.Popen(
            [*command, "--address", "127.0.0.1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.pids: dict[int, int] = {}  # worker number -> its current process id
        self.killed: set[int] = set()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.worker_ports = [self.port + 1 + k for k in range(workers)]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.log.append(line.rstrip())
            found = re.search(r"worker (\d+) \(.*\) started(?: again \(restart \d+,)?,? process (\d+)", line)
            if found:
                self.pids[int(found.group(1))] = int(found.group(2))

    def wait_ready(self, timeout: float = 300) -> None:
        """Until every worker answers and has warmed up (its "[explorer] warm" line): the class arrives after."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            warm = sum(line.startswith("[explorer] warm") for line in self.log)
            if warm >= len(self.worker_ports) and all(healthy(p) for p in self.worker_ports):
                return
            time.sleep(0.5)
        raise SystemExit("run.py serve did not start:\n" + "\n".join(self.log[-30:]))

    def rss_mb(self) -> dict[int, float]:
        sizes = {}
        for worker, pid in list(self.pids.items()):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            found = [line for line in status.splitlines() if line.startswith("VmRSS:")]
            if found:  # none while a killed worker is a zombie not yet reaped
                sizes[worker] = int(found[0].split()[1]) / 1024
        return sizes

    def kill(self, worker: int) -> None:
        os.kill(self.pids[worker], signal.SIGKILL)
        self.killed.add(worker)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _within(series: list[tuple[float, Any]], low: float, high: float) -> list[Any]:
    return [value for at, value in series if low <= at < high]


Readings = list[tuple[float, dict[int, float]]]  # (s since the lesson began, worker -> VmRSS MB)


async def lesson(args: argparse.Namespace, serve: Serve) -> tuple[Figures, Readings, Readings]:
    figures = Figures()
    http = f"http://127.0.0.1:{serve.port}"
    start = time.monotonic()
    run = Lesson(
        http, http.replace("http://", "ws://"), start, start + args.minutes * 60, args.pace, args.photo_mb, figures
    )
    roles = ["upload"] * args.uploaders + ["train"] * args.trainers
    roles += ["follow" if k % 2 == 0 else "explore" for k in range(args.students - len(roles))]
    tasks = [asyncio.create_task(student(run, i, role)) for i, role in enumerate(roles)]
    memory: list[tuple[float, dict[int, float]]] = []  # each window's reading at its end
    samples: list[tuple[float, dict[int, float]]] = []  # every few seconds: a window's median is read off these
    window = args.minutes * 60 / args.windows
    killed = False
    next_window = window
    while not run.over():
        await asyncio.sleep(min(5.0, max(0.1, run.end - time.monotonic())))
        samples.append((run.now(), serve.rss_mb()))
        if run.now() >= next_window - 1 or run.over():  # before a kill due now: the reading sees every worker
            memory.append(samples[-1])
            report_window(figures, memory, samples, next_window - window, next_window)
            next_window += window
        if not killed and run.now() >= args.kill_at * args.minutes * 60:
            serve.kill(1)
            killed = True
            print(f"# {run.now() / 60:.1f} min: worker 1 killed (SIGKILL)", flush=True)
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), RUN_TIMEOUT_S)
    await asyncio.sleep(IDLE_READING_S)  # the class has left: what the workers keep
    memory.append((run.now(), serve.rss_mb()))
    return figures, memory, samples


def window_median(samples: Readings, low: float, high: float) -> dict[int, float]:
    """Each worker's median RSS over the samples taken in ``[low, high)``: a computation in flight at a
    window's end (a training, a photo being decoded) weighs on one sample, not on the median."""
    inside = [rss for at, rss in samples if low <= at < high]
    workers = sorted({w for rss in inside for w in rss})
    return {w: statistics.median(rss[w] for rss in inside if w in rss) for w in workers}


def report_window(figures: Figures, memory: Readings, samples: Readings, low: float, high: float) -> None:
    opens, moves = _within(figures.opens, low, high), _within(figures.moves, low, high)
    rss, median = memory[-1][1], window_median(samples, low, high)
    print(
        f"{low / 60:5.1f}-{high / 60:4.1f} min "
        f"{len(opens):>5} {_percentile(opens, 0.5):>6.2f}s {_percentile(opens, 0.95):>6.2f}s "
        f"{len(moves):>5} {_percentile(moves, 0.5):>6.2f}s {_percentile(moves, 0.95):>6.2f}s "
        f"{len(_within(figures.maps, low, high)):>4} {len(_within(figures.trainings, low, high)):>5} "
        f"{len(_within(figures.exceptions, low, high)):>4} {len(_within(figures.failures, low, high)):>4} "
        f"{' + '.join(f'{rss[w]:.0f}' for w in sorted(rss)) or '-'} MB "
        f"(median {' + '.join(f'{median[w]:.0f}' for w in sorted(median)) or '-'})",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--uploaders", type=int, default=3)
    parser.add_argument("--trainers", type=int, default=2)
    parser.add_argument("--photo-mb", type=float, default=16.0)
    parser.add_argument("--kill-at", type=float, default=0.5, help="fraction of the lesson when worker 1 is killed")
    parser.add_argument("--windows", type=int, default=12)
    parser.add_argument("--pace", type=float, default=3.0)
    parser.add_argument(
        "--no-trim", action="store_true", help=f"workers never trim their heap ({TRIM_SETTING}=0), to compare"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped bench stops its serve too (finally)
    serve = Serve(args.workers, trim=not args.no_trim)
    try:
        serve.wait_ready()
        print(f"# {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.students} students ({args.uploaders} "
              f"uploading {args.photo_mb:.0f} MB photos, {args.trainers} training) on {args.workers} workers for "
              f"{args.minutes:.0f} min; worker 1 killed at {args.kill_at * args.minutes:.1f} min; heap trimmed "
              f"{'never' if args.no_trim else f'every {trim_period():g} s'}")  # fmt: skip
        print(f"{'window':<15} {'opens':>5} {'p50':>7} {'p95':>7} {'moves':>5} {'p50':>7} {'p95':>7} "
              f"{'maps':>4} {'train':>5} {'exc':>4} {'fail':>4} workers' RSS")  # fmt: skip
        figures, memory, samples = asyncio.run(lesson(args, serve))
        summary(args, serve, figures, memory, samples)
    finally:
        alive = serve.process.poll() is None
        serve.stop()
    print(f"serve still running at the end: {'yes' if alive else 'no'}")
    return 0


def memory_growth(args: argparse.Namespace, serve: Serve, memory: Readings, samples: Readings) -> list[str]:
    """The goal's reading (RSS after the first sixth of the lesson grows by at most 10 %) over the spans
    in which each worker holds the same students: a kill moves the killed worker's students to the
    others, so each worker is read from the first sixth to the kill, and from one window after the
    kill (its new students settled) to the end. Each end of a span is the median of a window's
    samples (the window just before the moment), so a training or a photo in flight at one instant
    does not decide it; the servers' sum is printed too, and what each worker keeps once the class has
    left (the last reading, taken IDLE_READING_S after it)."""
    lesson_s, window = args.minutes * 60, args.minutes * 60 / args.windows
    settled, kill = lesson_s / 6, args.kill_at * lesson_s
    spans = [("before the kill", settled, kill), ("after the kill", kill + 2 * window, lesson_s)]
    if kill >= lesson_s:
        spans = [("whole lesson", settled, lesson_s)]
    lines = []
    for name, low, high in spans:
        before, after = window_median(samples, low - window, low), window_median(samples, high - window, high)
        if high - low < window or not before or not after:
            continue
        for w in sorted(after):
            if w in before:
                role = "restarted" if w in serve.killed else "never killed"
                lines.append(
                    f"{name}: worker {w} ({role}) median RSS {before[w]:.0f} MB in {max(0, low - window) / 60:.1f}-"
                    f"{low / 60:.1f} min -> {after[w]:.0f} MB in {(high - window) / 60:.1f}-{high / 60:.1f} min: "
                    f"{100 * (after[w] / before[w] - 1):+.1f} % (goal <= +10 %)"
                )
        total0, total1 = sum(before.values()), sum(after.values())
        lines.append(f"{name}: all workers {total0:.0f} MB -> {total1:.0f} MB: {100 * (total1 / total0 - 1):+.1f} %")
    idle = memory[-1][1]
    lines.append(
        f"after the class ({IDLE_READING_S:.0f} s with no student): "
        + " + ".join(f"worker {w} {idle[w]:.0f} MB" for w in sorted(idle))
    )
    return lines


def summary(args: argparse.Namespace, serve: Serve, figures: Figures, memory: Readings, samples: Readings) -> None:
    for line in memory_growth(args, serve, memory, samples):
        print(line)
    print(f"whole lesson: opens p95 {_percentile([t for _, t in figures.opens], 0.95):.2f} s, moves p95 "
          f"{_percentile([t for _, t in figures.moves], 0.95):.2f} s, {len(figures.maps)} photo maps "
          f"(p50 {_percentile([t for _, t in figures.maps], 0.5):.1f} s), {len(figures.trainings)} trainings, "
          f"{len(figures.exceptions)} exceptions, {len(figures.failures)} failed or dropped runs")  # fmt: skip
    back = sorted(figures.back.values())
    print(f"killed worker's students: {len(figures.dropped)} dropped, {len(back)} back with their page"
          + (f" (after p50 {_percentile(back, 0.5):.1f} s, max {back[-1]:.1f} s)" if back else ""))  # fmt: skip
    restarted = [line for line in serve.log if "started again" in line]
    print(f"restarts: {restarted[-1].removeprefix('[run.py] ') if restarted else 'none'}")
    for at, text in sorted(set(figures.exceptions))[:5]:
        print(f"    exception at {at / 60:.1f} min: {text}")
    kinds = Counter(text for _, text in figures.failures)
    for text, count in kinds.most_common(8):
        first = min(at for at, said in figures.failures if said == text)
        print(f"    {count} x from {first / 60:.1f} min: {text}")


if __name__ == "__main__":
    sys.exit(main())
