#!/usr/bin/env python3
"""Set up and run the CNN Architecture Explorer with nothing but Python 3.11+.

    python3 run.py app  [streamlit options, e.g. --server.port 8502]
    python3 run.py test [pytest options, e.g. -k config -x]
    python3 run.py serve --workers N [--port 8501] [--address 0.0.0.0] [--max-upload-mb 128]   (a class)

Both commands create ``./.venv`` next to this file when it is missing and install the pinned
requirements into it whenever a requirements file changed since the last install (a stamp with
the files' SHA-256 lives inside ``.venv``). ``app`` then runs ``streamlit run app.py``; ``test``
also installs ``requirements-dev.txt``, makes sure Chromium is there for the browser tests
(installing Debian's package when running as root), runs ``ruff check .``, ``mypy`` and then
``pytest``. The exit code is pytest's (non-zero when ruff or mypy found problems or no test was
collected).

Standard library only: this script runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".run-py-stamp.json"
RUNTIME_REQUIREMENTS = ROOT / "requirements.txt"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"
CHROMIUM = Path("/usr/bin/chromium")
MIN_PYTHON = (3, 11)
PYTEST_NO_TESTS = 5

USAGE = """usage: python3 run.py app  [streamlit options]   set up .venv and start the app
       python3 run.py test [pytest options]      set up .venv (with dev tools), lint and run the tests
       python3 run.py serve --workers N [--port P] [--address A] [--max-upload-mb MB]
                                                 N app processes behind nginx with sticky sessions"""


class SetupError(Exception):
    """A setup step failed; the message says which and what to do."""


def say(message: str) -> None:
    print(f"[run.py] {message}", flush=True)


def venv_python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def run(command: list[str | os.PathLike[str]], **kwargs) -> int:
    """Run a child process from the repository root and return its exit code.

    On Ctrl-C the child (in the same process group) gets the SIGINT too; wait for it to finish
    before letting the KeyboardInterrupt through, so no orphan keeps running.
    """
    process = subprocess.Popen([str(part) for part in command], cwd=ROOT, **kwargs)
    try:
        return process.wait()
    except KeyboardInterrupt:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise


# -- the virtual environment --------------------------------------------------------------
def _venv_works() -> bool:
    python = venv_python()
    if not python.exists():
        return False
    try:
        result = subprocess.run(
            [str(python), "-c", "import pip, sys; print(sys.version_info[:2])"], capture_output=True
        )
    except OSError:
        return False
    return result.returncode == 0


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _can_apt() -> bool:
    return sys.platform.startswith("linux") and _is_root() and shutil.which("apt-get") is not None


def _apt_install(*packages: str) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"installing {' '.join(packages)} with apt-get")
    if run(["apt-get", "update"], env=env) != 0:
        return False
    return run(["apt-get", "install", "-y", *packages], env=env) == 0


def ensure_venv() -> Path:
    if _venv_works():
        return venv_python()
    if VENV.exists():
        if not (VENV / "pyvenv.cfg").exists():
            raise SetupError(f"{VENV} exists but is not a virtual environment; move it away and run again")
        say(f"{VENV.name} is broken (no working python or pip); recreating it")
        shutil.rmtree(VENV)
    say(f"creating {VENV} with Python {sys.version.split()[0]}")
    try:
        venv.create(VENV, with_pip=True)
    except (subprocess.CalledProcessError, OSError) as error:
        shutil.rmtree(VENV, ignore_errors=True)
        # Debian and Ubuntu ship the venv module without ensurepip unless python3-venv is installed.
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        if _can_apt() and _apt_install("python3-venv", f"{version}-venv"):
            venv.create(VENV, with_pip=True)
        else:
            raise SetupError(
                f"could not create {VENV} ({error}); on Debian/Ubuntu install the venv module "
                f"(sudo apt-get install python3-venv {version}-venv) and run again"
            ) from error
    if not _venv_works():
        raise SetupError(f"{VENV} was created but its python cannot import pip")
    return venv_python()


# -- requirements ---------------------------------------------------------------------------
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_stamp() -> dict[str, str]:
    try:
        data = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def ensure_requirements(python: Path, files: list[Path]) -> None:
    """Install ``files`` into the venv unless the stamp says exactly these contents are installed."""
    for path in files:
        if not path.exists():
            raise SetupError(f"{path.name} is missing next to run.py")
    stamp = _read_stamp()
    wanted = {path.name: _digest(path) for path in files}
    if all(stamp.get(name) == digest for name, digest in wanted.items()):
        say("requirements up to date (" + ", ".join(wanted) + ")")
        return
    say("installing " + ", ".join(wanted) + " into .venv (the first time takes a few minutes)")
    command: list[str | os.PathLike[str]] = [python, "-m", "pip", "install", "--disable-pip-version-check"]
    for path in files:
        command += ["-r", path]
    if run(command) != 0:
        raise SetupError("pip install failed (see above); fix the cause and run again")
    stamp.update(wanted)
    STAMP.write_text(json.dumps(stamp, indent=2, sort_keys=True) + "\n")


# -- chromium for the browser tests ---------------------------------------------------------
def chromium_path() -> str | None:
    if CHROMIUM.exists():
        return str(CHROMIUM)
    return shutil.which("chromium")


def ensure_chromium() -> None:
    if chromium_path():
        return
    if _can_apt() and Path("/etc/debian_version").exists():
        if _apt_install("chromium") and chromium_path():
            say(f"chromium installed at {chromium_path()}")
            return
        say("could not install chromium with apt-get; browser tests will be skipped (or fail under CI)")
        return
    say(
        "chromium not found (/usr/bin/chromium): browser tests will be skipped; install Debian's 'chromium' to run them"
    )


def nginx_path() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def ensure_nginx() -> None:
    """nginx for `serve` and its test (tests/test_deploy.py skips without it); installed when root."""
    if nginx_path() or not (_can_apt() and Path("/etc/debian_version").exists()):
        return
    if _apt_install("nginx-light") and nginx_path():
        # Debian's package starts a system nginx on port 80; the tests and `serve` run their own.
        run(["sh", "-c", "service nginx stop >/dev/null 2>&1 || true"])
        say(f"nginx installed at {nginx_path()}")
    else:
        say("could not install nginx with apt-get; tests/test_deploy.py will be skipped")


# -- commands -------------------------------------------------------------------------------
def _has_option(args: list[str], name: str) -> bool:
    return any(arg == name or arg.startswith(name + "=") for arg in args)


#: At most this many pytest-xdist workers: each browser-test worker runs its own Streamlit server and
#: Chromium, so a large machine gains little past a few.
MAX_TEST_WORKERS = 4


def _parallel_options(args: list[str]) -> list[str]:
    """pytest-xdist over the machine's cores (two on CI), unless the caller chose (``-n``, ``-p no:xdist``)
    or debugs (``--pdb``, ``-s``), where one process is what they want. ``--dist loadscope``: a test
    module goes whole to one worker, so its module-scoped fixtures (a model trained for the module, a
    batch of command lines) are built once. (``loadgroup`` would group only the marked modules, but
    pytest-xdist 3.8 cannot mark them under pytest 9: it renames items through a private attribute
    that pytest 9 no longer reads.)"""
    workers = min(os.cpu_count() or 1, MAX_TEST_WORKERS)
    single = ("-n", "--pdb", "-s", "--capture=no", "--collect-only", "--co")
    chosen = any(arg in single or arg.startswith(("-n", "--numprocesses")) for arg in args)
    debugging = any(arg == "-p" and following.startswith("no:xdist") for arg, following in itertools.pairwise(args))
    if workers < 2 or chosen or debugging:
        return []
    return ["-n", str(workers), "--dist", "loadscope"]


def command_app(args: list[str]) -> int:
    python = ensure_venv()
    ensure_requirements(python, [RUNTIME_REQUIREMENTS])
    extra = [] if _has_option(args, "--server.showEmailPrompt") else ["--server.showEmailPrompt", "false"]
    say("starting streamlit (Ctrl-C stops it)")
    return run([python, "-m", "streamlit", "run", ROOT / "app.py", *extra, *args])


def type_check(python: Path) -> int:
    """mypy over explorer/, pages/ and app.py (configured in pyproject.toml); its exit code. Its cache
    (.mypy_cache) makes a rerun take seconds; the first run takes about a minute on a 2-core CPU."""
    say("mypy (explorer/, pages/, app.py)")
    code = run([python, "-m", "mypy"])
    if code != 0:
        say("mypy found problems (above); running the tests anyway, the exit code will be non-zero")
    return code


def command_test(args: list[str]) -> int:
    python = ensure_venv()
    ensure_requirements(python, [RUNTIME_REQUIREMENTS, DEV_REQUIREMENTS])
    ensure_chromium()
    ensure_nginx()
    say("ruff check .")
    lint = run([python, "-m", "ruff", "check", "."])
    if lint != 0:
        say("ruff found problems (above); running the tests anyway, the exit code will be non-zero")
    args = [*_parallel_options(args), *args]
    lint = type_check(python) or lint
    say("pytest " + " ".join(args))
    code = run([python, "-m", "pytest", *args])
    if code == PYTEST_NO_TESTS:
        say("pytest collected no tests: treated as a failure")
    elif code == 0 and lint != 0:
        code = 1
    say("done: " + ("all passed" if code == 0 else f"exit code {code}"))
    return code


#: The class deploy's upload limit (MB): the largest state dict a student uploads for the families
#: taught, ResNet-50's 102 MB (DenseNet-201 81, EfficientNet-B4 78, MobileNets and the shipped models
#: a few), with room. Each upload is held in a worker's memory while it is read, so a class of 30
#: sending junk at once costs at most 30 x this. A VGG-16 (528 MB) needs --max-upload-mb 600.
CLASS_MAX_UPLOAD_MB = 128


def _serve_options(args: list[str]) -> tuple[int, int, str, int]:
    import argparse

    parser = argparse.ArgumentParser(prog="python3 run.py serve")
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    parser.add_argument("--port", type=int, default=8501, help="the port students open (nginx)")
    parser.add_argument("--address", default="0.0.0.0", help="where nginx listens (default: every interface)")
    parser.add_argument(
        "--max-upload-mb",
        type=int,
        default=CLASS_MAX_UPLOAD_MB,
        help=f"largest upload accepted, in MB (default {CLASS_MAX_UPLOAD_MB}: a ResNet-50 state dict; 600 for VGG-16)",
    )
    options = parser.parse_args(args)
    if options.workers < 1:
        raise SetupError("--workers must be at least 1")
    if options.max_upload_mb < 1:
        raise SetupError("--max-upload-mb must be at least 1")
    return options.workers, options.port, options.address, options.max_upload_mb


#: A worker that dies is started again after this many seconds, doubled after each death up to the
#: maximum; once it has run for RESTART_STEADY_S the wait starts again from the first.
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
RESTART_STEADY_S = 60.0
#: nginx stops sending new requests to a worker that failed once, for this many seconds, then tries it again.
WORKER_FAIL_TIMEOUT_S = 5
#: Seconds the children of a stopping class get to stop together after SIGTERM before they are killed
#: (a worker still busy with a student's computation can take longer: it is then killed).
STOP_GRACE_S = 10.0
#: glibc's malloc arenas per worker (MALLOC_ARENA_MAX; an environment setting of the same name wins).
#: Each session's script thread otherwise gets an arena of its own that keeps what it freed: 8 tabs
#: each explaining a 16 MB photo left a worker 27 MB per photo larger; with 2 arenas, 5 MB
#: (bench/bench_uploads.py --photos), and the worker starts 250 MB smaller.
WORKER_MALLOC_ARENAS = "2"


def _nginx_upstreams(worker_ports: list[int]) -> dict[str, str]:
    """The template's routing fields: every worker for new browsers; for each worker ``wK``, a group
    where it comes first and the others stand by (``backup``) while it is down; which cookie value
    names the worker that answered (the last address in ``$upstream_addr``); and the uploads' groups,
    one worker each with no failure counting (``max_fails=0``): a worker that refuses an upload may
    reset the connection while the body is still on its way, and nginx counts a reset as a failure, so
    with ``max_fails=1`` one refused upload sidelined a healthy worker and moved its students."""
    fails = f"max_fails=1 fail_timeout={WORKER_FAIL_TIMEOUT_S}s"
    every = "\n".join(f"        server 127.0.0.1:{p} {fails};" for p in worker_ports)
    every_upload = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in worker_ports)
    pinned, names, answered = [], [], []
    uploads, upload_names = [f"    upstream explorer_up_all {{\n{every_upload}\n    }}"], []
    for k, port in enumerate(worker_ports, start=1):
        others = worker_ports[k:] + worker_ports[: k - 1]  # each worker's stand-ins in another order
        lines = [f"        server 127.0.0.1:{port} {fails};"]
        lines += [f"        server 127.0.0.1:{p} backup;" for p in others]
        pinned.append(f"    upstream explorer_w{k} {{\n" + "\n".join(lines) + "\n    }")
        names.append(f"        w{k} explorer_w{k};")
        answered.append(f"        ~127\\.0\\.0\\.1:{port}$ w{k};")
        uploads.append(f"    upstream explorer_up_w{k} {{\n        server 127.0.0.1:{port} max_fails=0;\n    }}")
        upload_names.append(f"        w{k} explorer_up_w{k};")
    return {
        "@UPSTREAMS@": every,
        "@PINNED_UPSTREAMS@": "\n".join(pinned),
        "@PINNED_NAMES@": "\n".join(names),
        "@ANSWERED_NAMES@": "\n".join(answered),
        "@UPLOAD_UPSTREAMS@": "\n".join(uploads),
        "@UPLOAD_NAMES@": "\n".join(upload_names),
    }


def write_nginx_config(
    run_dir: Path, address: str, port: int, worker_ports: list[int], max_upload_mb: int = CLASS_MAX_UPLOAD_MB
) -> Path:
    """deploy/nginx.conf.template filled in for these ports; returns the config's path."""
    text = (ROOT / "deploy" / "nginx.conf.template").read_text()
    fields = {
        **_nginx_upstreams(worker_ports),
        "@RUN_DIR@": str(run_dir),
        "@ADDRESS@": address,
        "@PORT@": str(port),
        "@MAX_UPLOAD_MB@": str(max_upload_mb),
    }
    for field, value in fields.items():
        text = text.replace(field, value)
    path = run_dir / "nginx.conf"
    path.write_text(text)
    return path


class Supervised:
    """A child process of ``serve`` kept alive: started again, after a back-off, whenever it stops."""

    def __init__(
        self, name: str, command: list[str | os.PathLike[str]], cwd: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name, self.command, self.cwd, self.env = name, [str(part) for part in command], cwd, env
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.backoff = RESTART_FIRST_S
        self.due: float | None = None  # when a stopped child is to be started again
        self.restarts = 0

    def start(self, now: float) -> None:
        self.process = subprocess.Popen(self.command, cwd=self.cwd, env=self.env)
        self.started, self.due = now, None

    def check(self, now: float) -> None:
        """Start the child again if its back-off is over; notice that it stopped and say so."""
        if self.due is not None:
            if now >= self.due:
                self.restarts += 1
                self.start(now)
                say(f"{self.name} started again (restart {self.restarts}, process {self.process_id})")
            return
        assert self.process is not None, "start() comes first"
        code = self.process.poll()
        if now - self.started >= RESTART_STEADY_S:
            self.backoff = RESTART_FIRST_S  # it ran long enough: the next death is not part of a crash loop
        if code is None:
            return
        say(
            f"{self.name} stopped ({_exit_words(code)}) after {now - self.started:.0f} s; starting it again in "
            f"{self.backoff:.0f} s (nginx sends its students to the other workers meanwhile)"
        )
        self.due = now + self.backoff
        self.backoff = min(self.backoff * 2, RESTART_MAX_S)

    @property
    def process_id(self) -> int | None:
        return None if self.process is None else self.process.pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def wait_stopped(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _answers(worker_port: int) -> bool:
    """Whether a worker answers its health check (it listens only once it has warmed up)."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker_port}/_stcore/health", timeout=1) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


def _exit_words(code: int) -> str:
    """A child's exit status in words: "exit code 1", "killed by SIGKILL"."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def command_serve(args: list[str]) -> int:
    """N workers (``deploy/worker.py``: ``streamlit run app.py`` on ports P+1..P+N, loopback only) behind
    nginx on P. A worker or nginx that stops is started again; only Ctrl-C or SIGTERM stops the class."""
    import tempfile
    import time

    workers, port, address, max_upload_mb = _serve_options(args)
    ensure_nginx()
    nginx = nginx_path()
    if nginx is None:
        raise SetupError("nginx is not installed (Debian: apt-get install nginx-light)")
    python = ensure_venv()
    ensure_requirements(python, [RUNTIME_REQUIREMENTS])
    run_dir = Path(tempfile.mkdtemp(prefix="explorer-serve-"))
    run_dir.chmod(0o755)  # run as root, nginx's workers are "nobody": they must reach their temporary folders
    worker_ports = [port + 1 + i for i in range(workers)]
    config = write_nginx_config(run_dir, address, port, worker_ports, max_upload_mb)
    worker: list[str | os.PathLike[str]] = [python, ROOT / "deploy" / "worker.py", "--server.headless", "true"]
    options = ["--server.address", "127.0.0.1", "--server.showEmailPrompt", "false"]
    options += ["--server.maxUploadSize", str(max_upload_mb)]
    env = {"MALLOC_ARENA_MAX": WORKER_MALLOC_ARENAS, **os.environ}
    children = [
        Supervised(f"worker {k} (127.0.0.1:{p})", [*worker, *options, "--server.port", str(p)], ROOT, env)
        for k, p in enumerate(worker_ports, start=1)
    ]
    children.append(Supervised("nginx", [nginx, "-c", config, "-g", "daemon off;"], run_dir))
    # SIGTERM (a service manager, a test's terminate()) must stop the workers too: turn it into an
    # exception so the `finally` below runs instead of the interpreter exiting and orphaning them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for child in children:
            child.start(time.monotonic())
            say(f"{child.name} started, process {child.process_id}")
        say(f"{workers} workers on 127.0.0.1:{worker_ports[0]}-{worker_ports[-1]} behind nginx on {address}:{port}")
        say(f"nginx's error log: {run_dir / 'error.log'} (while the class runs)")
        say("each worker warms up (imports torch, builds a model) before it takes students; Ctrl-C stops the class")
        waiting = set(worker_ports)  # until each has answered once
        while True:
            time.sleep(0.5)
            for child in children:
                child.check(time.monotonic())
            if waiting:
                waiting = {p for p in waiting if not _answers(p)}
                if not waiting:
                    say(f"ready: students open http://{'localhost' if address == '0.0.0.0' else address}:{port}")
    finally:
        for child in children:
            child.stop()
        deadline = time.monotonic() + STOP_GRACE_S  # one wait for all: they stop side by side
        for child in children:
            child.wait_stopped(timeout=max(0.0, deadline - time.monotonic()))
        # nginx's configuration, temporary bodies and error log: of this class only (a class that
        # runs has it; one that stopped would leave a folder in the temporary directory each time)
        shutil.rmtree(run_dir, ignore_errors=True)


COMMANDS = {"app": command_app, "test": command_test, "serve": command_serve}


def main(argv: list[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        print(
            f"run.py needs Python {'.'.join(map(str, MIN_PYTHON))}+; this is {sys.version.split()[0]}", file=sys.stderr
        )
        return 2
    if not argv or argv[0] not in COMMANDS:
        asked = bool(argv) and argv[0] in ("-h", "--help", "help")
        print(USAGE, file=sys.stdout if asked else sys.stderr)
        return 0 if asked else 2
    try:
        return COMMANDS[argv[0]](argv[1:])
    except SetupError as error:
        print(f"[run.py] error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\n[run.py] interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
