"""Build page re-render time: how long a moved slider takes to show new numbers.

Drives the real page through Streamlit's AppTest (the script run a browser would trigger, minus the
network and drawing) and reports, in one run, the median time of a re-render after moving ResNet's
depth slider, split into cold (config never seen: profile computed) and warm (cached) runs, next to
the time of the profile alone, so the page's own overhead is visible as a ratio.

Then a new config's cost on the server (the goal, so that a class shares one server: at or under
0.15 s of one core for ResNet-50-sized designs): links to ResNet-50s of widths never seen (none is a stored preset), the
process's CPU time per page run (one torch thread; profile, training memory, figures and Streamlit's
own work), next to the profile and training-memory counts alone on other fresh widths.

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
    new_config_cost(at)


def new_config_cost(at: AppTest) -> None:
    import torch

    from explorer.measure.memory import training_memory_or_smallest_batch

    torch.set_num_threads(1)
    page, counts = [], []
    for width in (40, 48, 56, 72, 80, 88, 96):  # the Build page, opened on a link to each
        at.query_params.clear()
        at.query_params.update({"family": "resnet", "depth": "50", "width": str(width)})
        start = time.process_time()
        at.run()
        page.append(time.process_time() - start)
        assert not at.exception and at.title[0].value.endswith(f"width={width}"), at.exception
    for width in (44, 52, 60, 76, 84, 92, 100):  # the two counts alone
        config = parse_query(f"family=resnet&depth=50&width={width}")
        start = time.process_time()
        profile(config)
        training_memory_or_smallest_batch(config, 1)
        counts.append(time.process_time() - start)
    page_s, counts_s = statistics.median(page), statistics.median(counts)
    print(f"A new ResNet-50-sized config on the server, CPU seconds (one torch thread), median of {len(page)}:")
    print(f"  Build page run (profile, training memory, figures, Streamlit): {page_s:.3f} s (goal <= 0.15 s)")
    print(f"  profile + training memory alone:                              {counts_s:.3f} s")
    print(f"  page / counts alone: {page_s / counts_s:.2f}x")


if __name__ == "__main__":
    main()
