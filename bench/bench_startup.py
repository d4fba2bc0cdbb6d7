"""Start-up: how long a user waits before the first answer, from a cold process.

    python bench/bench_startup.py [--repeats N] [--no-browser | --app-only]

1. CLI: ``python -m explorer profile preset=efficientnet_b7 --json`` as a whole process, beyond a bare
   ``python -c "import torch, torchvision"`` (the floor every command pays), against
   ``torchinfo.summary`` of the same model at 600 px in a process that has already imported torch
   (the peer's own work). Target: explorer's extra time <= 1/4 of torchinfo's.
   And ``python -m explorer graph preset=preact_resnet1001`` (3,345 modules) the same way, against
   ``torchview.draw_graph`` of the same model at its default depth (build included, torch imported).
   Target: <= 1/4 of torchview's.
2. App: ``streamlit run app.py`` started cold; seconds until Chromium shows the Build page's
   parameter count (the first page a user sees), measured from the server's launch. Target: <= 5 s.
   Also when the page is complete: its breakdown chart drawn, and the sidebar's device picker,
   which follows once torch is imported (the first page is drawn from stored profiles before).

Medians of ``N`` runs (alternating where there are two sides) are printed with the ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from explorer.runtime.ports import free_port  # noqa: E402  (after the path)

PYTHON = sys.executable
TORCHINFO = """
import time, torch, torchvision, torchinfo
start = time.perf_counter()
torchinfo.summary(torchvision.models.efficientnet_b7(), input_size=(1, 3, 600, 600), verbose=0)
print(time.perf_counter() - start)
"""


TORCHVIEW = """
import time, torch, torchvision, torchview
from explorer.config import parse_query
from explorer.families import build
start = time.perf_counter()
torchview.draw_graph(build(parse_query("preset=preact_resnet1001")).module, input_size=(1, 3, 32, 32), device="cpu")
print(time.perf_counter() - start)
"""


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def command_vs_peer(repeats: int, command: str, peer: str, peer_label: str) -> None:
    """Medians over ``repeats``: ``python -m explorer <command>`` as a whole process beyond a bare
    ``import torch, torchvision``, against ``peer`` (a script printing its own seconds), and the ratio."""
    explorer_cmd = [PYTHON, "-m", "explorer", *command.split()]
    bare_cmd = [PYTHON, "-c", "import torch, torchvision"]
    ours, bares, peers = [], [], []
    for _ in range(repeats):
        ours.append(wall(explorer_cmd))
        bares.append(wall(bare_cmd))
        out = subprocess.run([PYTHON, "-c", peer], cwd=ROOT, check=True, capture_output=True, text=True)
        peers.append(float(out.stdout.strip().splitlines()[-1]))
    ours_s, bare_s, peer_s = (statistics.median(v) for v in (ours, bares, peers))
    extra = ours_s - bare_s
    name = command.split()[0]
    print(f"cli: {name} process {ours_s:.2f} s, bare import {bare_s:.2f} s -> explorer's extra {extra:.2f} s")
    print(f"cli: {peer_label} (torch already imported) {peer_s:.2f} s")
    print(f"cli: extra / {peer_label.split('.')[0]} = {extra / peer_s:.2f} (target <= 0.25)")


def cli(repeats: int) -> None:
    command_vs_peer(repeats, "profile preset=efficientnet_b7 --json", TORCHINFO, "torchinfo.summary (build + summary)")
    command_vs_peer(repeats, "graph preset=preact_resnet1001", TORCHVIEW, "torchview.draw_graph (build + graph)")


def first_page(repeats: int, launcher: list[str], label: str) -> None:
    from playwright.sync_api import sync_playwright

    times, charts, complete = [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for _ in range(repeats):
            port = free_port()
            start = time.perf_counter()
            command = [*launcher, "run", "app.py", "--server.headless", "true"]
            server = subprocess.Popen(
                [*command, "--server.port", str(port), "--server.address", "127.0.0.1"],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                page = browser.new_page()
                while True:
                    try:
                        page.goto(f"http://127.0.0.1:{port}/", timeout=2000)
                        break
                    except Exception:  # server not listening yet
                        if time.perf_counter() - start > 120:
                            raise
                        time.sleep(0.05)
                page.get_by_text("Parameters").first.wait_for(timeout=120_000)
                times.append(time.perf_counter() - start)
                page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
                charts.append(time.perf_counter() - start)
                page.get_by_text("Models run on").first.wait_for(timeout=120_000)
                complete.append(time.perf_counter() - start)
                page.close()
            finally:
                server.terminate()
                server.wait()
        browser.close()

    def runs(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s (runs: {', '.join(f'{t:.2f}' for t in values)})"

    print(f"app ({label}): launch -> Build page's numbers shown {runs(times)}; target <= 5 s")
    print(f"app ({label}): launch -> first chart drawn {runs(charts)}")
    print(f"app ({label}): launch -> device picker drawn (torch imported) {runs(complete)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--app-only", action="store_true", help="only the first page after streamlit run")
    args = parser.parse_args()
    print(f"# {platform.machine()}, python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}")
    if not args.app_only:
        cli(args.repeats)
    if not args.no_browser:
        first_page(args.repeats, [PYTHON, "-m", "streamlit"], "streamlit run app.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
