"""Build page re-render time: how long a moved slider takes to show new numbers.

Drives the real page through Streamlit's AppTest (the script run a browser would trigger, minus the
network and drawing) and reports, in one run, the median time of a re-render after moving ResNet's
depth slider, split into cold (config never seen: profile computed) and warm (cached) runs, next to
the time of the profile alone, so the page's own overhead is visible as a ratio.

    python bench/bench_build_page.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from explorer.config import parse_query  # noqa: E402
from explorer.measure.profile import profile  # noqa: E402

DEPTHS = [34, 50, 101, 152, 26]


def main() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    slider = "knob.resnet.depth"
    cold, warm, bare = [], [], []
    for depth in DEPTHS:
        start = time.perf_counter()
        at.sidebar.select_slider(key=slider).set_value(depth).run()
        cold.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    for depth in DEPTHS:
        start = time.perf_counter()
        at.sidebar.select_slider(key=slider).set_value(depth).run()
        warm.append(time.perf_counter() - start)
    for depth in DEPTHS:
        start = time.perf_counter()
        profile(parse_query(f"family=resnet&depth={depth}"))
        bare.append(time.perf_counter() - start)
    cold_s, warm_s, bare_s = (statistics.median(x) for x in (cold, warm, bare))
    print(f"Build page re-render after a depth change (ResNet depths {DEPTHS}), median of {len(DEPTHS)}:")
    print(f"  cold (profile computed): {cold_s * 1000:7.0f} ms")
    print(f"  warm (profile cached):   {warm_s * 1000:7.0f} ms")
    print(f"  profile alone:           {bare_s * 1000:7.0f} ms")
    print(f"  cold re-render / profile alone: {cold_s / bare_s:.2f}x")


if __name__ == "__main__":
    main()
