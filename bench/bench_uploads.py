"""Server memory under a class's checkpoint uploads: N Chromium tabs each send S MB of junk as a
checkpoint to the Saliency page at once; or (``--photos``) N tabs each send a different S MB photo
and must all get a map.

    python bench/bench_uploads.py [--tabs 6] [--mb 100] [--max-upload-mb 600] [--photos]

Starts its own ``streamlit run app.py`` and prints the server's RSS (``/proc/PID/status``: VmRSS, and
VmHWM for the peak) before the uploads, at the peak, and 10 s after the last tab showed its error,
with the bytes in flight (N x S) and the goals (a class uploading at once must not grow the
server for good): peak <= before + 1.2 x in flight, and
after <= before + 0.5 GB. Every tab must show the clear "not a PyTorch state dict" error, and a fresh
tab must still get a page afterwards.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from explorer.runtime.ports import free_port  # noqa: E402  (after the path)

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of ``pid`` in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


@contextmanager
def server(max_upload_mb: int) -> Iterator[tuple[str, int]]:
    """A ``streamlit run app.py`` of the bench's own: its base URL and process id; stopped afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    options = ["--server.port", str(port), "--server.maxUploadSize", str(max_upload_mb)]
    process = subprocess.Popen(
        [*command, *options, "--browser.gatherUsageStats", "false"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(url)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", type=int, default=6)
    parser.add_argument("--mb", type=int, default=100, help="size of each junk upload")
    parser.add_argument("--max-upload-mb", type=int, default=600)
    parser.add_argument("--photos", action="store_true", help="different photos of --mb MB each instead of junk")
    args = parser.parse_args()
    if args.photos:
        return photos(args)
    from playwright.sync_api import sync_playwright

    junk = Path(tempfile.mkdtemp()) / "junk.pt"
    junk.write_bytes(os.urandom(1 << 20) * args.mb)  # random-looking, neither zip nor pickle
    try:
        with server(args.max_upload_mb) as (url, pid), sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            pages = []
            for _ in range(args.tabs):
                page = browser.new_page()
                page.goto(url + "/saliency?preset=resnet20")
                page.get_by_text("Uploaded checkpoint").first.click()
                page.wait_for_selector("input[type=file]", state="attached", timeout=120_000)
                pages.append(page)
            time.sleep(3)
            before, _ = rss_mb(pid)
            started = time.monotonic()
            for page in pages:  # each tab's upload starts as soon as the file is set
                page.locator("input[type=file]").last.set_input_files(str(junk))
            errors = 0
            for page in pages:
                page.get_by_text("not a PyTorch state dict").first.wait_for(timeout=600_000)
                errors += 1
            done = time.monotonic() - started
            time.sleep(10)
            after, peak = rss_mb(pid)
            fresh = browser.new_page()
            fresh.goto(url + "/")
            fresh.wait_for_selector('[data-testid="stMetricValue"]', timeout=60_000)
            browser.close()
    finally:
        junk.unlink(missing_ok=True)
    in_flight = args.tabs * args.mb * 1.048576  # MB of 10^6 bytes
    print(f"{args.tabs} tabs x {args.mb} MiB junk: {errors}/{args.tabs} clear errors in {done:.1f} s; fresh tab served")
    print(f"RSS before {before:.0f} MB, peak {peak:.0f} MB, 10 s after {after:.0f} MB; in flight {in_flight:.0f} MB")
    print(
        f"peak - before = {(peak - before) / in_flight:.2f} x in flight (goal <= 1.2); "
        f"after - before = {(after - before) / 1000:.2f} GB (goal <= 0.5)"
    )
    return 0


def photos(args: argparse.Namespace) -> int:
    """N tabs upload different photos (noise PNGs of about --mb MB) to Saliency at once: every tab must
    show a map (an overlay) and no exception box. The server's RSS before the uploads (every tab on the
    upload's page) and 10 s after the last map, divided by N: what a photo costs its session once its
    map is shown (issue 35's goal: at most 20 MB)."""
    import numpy as np
    from PIL import Image
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp())
    side = int((args.mb * 1_000_000 / 3) ** 0.5)  # raw RGB noise barely compresses: about --mb MB of PNG
    files = []
    for i in range(args.tabs):
        path = folder / f"photo{i}.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path)
        files.append(path)
    with server(args.max_upload_mb) as (url, pid), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        pages = []
        for _ in range(args.tabs):
            page = browser.new_page()
            page.goto(url + "/saliency")
            page.get_by_role("radiogroup", name="Image from").get_by_text("Upload", exact=True).click()
            page.wait_for_selector(".st-key-saliency-upload input[type='file']", state="attached", timeout=300_000)
            pages.append(page)
        time.sleep(3)
        before, _ = rss_mb(pid)
        started = time.monotonic()
        for page, path in zip(pages, files, strict=True):
            page.locator(".st-key-saliency-upload input[type='file']").set_input_files(str(path))
        times, maps, exceptions = [], 0, 0
        for page in pages:
            page.get_by_text("Overlay:").first.wait_for(timeout=600_000)
            times.append(time.monotonic() - started)
            maps += 1
            exceptions += page.locator('[data-testid="stException"]').count()
        time.sleep(10)
        after, peak = rss_mb(pid)
        browser.close()
    times.sort()
    print(
        f"{args.tabs} tabs x a {files[0].stat().st_size / 1e6:.1f} MB photo: {maps}/{args.tabs} maps, "
        f"{exceptions} exception boxes; map after p50 {times[len(times) // 2]:.1f} s, max {times[-1]:.1f} s"
    )
    print(
        f"RSS before {before:.0f} MB, peak {peak:.0f} MB, 10 s after the last map {after:.0f} MB: "
        f"{(after - before) / args.tabs:.1f} MB per photo kept (goal <= 20)"
    )
    return 0 if maps == args.tabs and exceptions == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
