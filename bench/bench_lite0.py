"""EfficientNet-Lite0 from its package on the Saliency path: what a photo costs before its map shows.

Times, in one process on the CPU: importing the library, loading the package's weights (sha256 check,
build, key mapping, strict load), the first Grad-CAM of the cat sample at 224 px and then the median
of 5 more (the page's ``explain_image``: decode, resize and crop, preprocess, a forward pass for the
predictions, captum's LayerGradCam forward + backward, upsampling). With 1 and 2 threads, and the load
average, because a shared machine's times are not a quiet one's.

    python bench/bench_lite0.py            # --threads 1 2 (default)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPEATS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    start = time.perf_counter()
    import torch

    from explorer.analysis.saliency import explain_image
    from explorer.data.samples import SAMPLES, load_sample
    from explorer.runtime.packaged import load_packaged, packaged_lite0

    imported = time.perf_counter() - start
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"import torch + explorer: {imported:.2f} s")
    for threads in args.threads:
        torch.set_num_threads(threads)
        start = time.perf_counter()
        model = load_packaged(packaged_lite0(), "cpu")
        loaded = time.perf_counter() - start
        cat = load_sample("Chelsea the cat")
        start = time.perf_counter()
        explain_image(model, cat)
        first_s = time.perf_counter() - start
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            explain_image(model, cat)
            times.append(time.perf_counter() - start)
        print(
            f"{threads} thread(s): load {loaded:.2f} s, first Grad-CAM {first_s:.2f} s, "
            f"then median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f}); "
            f"load + first map {loaded + first_s:.2f} s"
        )
        for name in SAMPLES:
            result = explain_image(model, load_sample(name))
            top = ", ".join(f"{n} {p:.3f}" for n, p in result.top[:3])
            print(f"  {name}: {top}; peak (row, col) {result.cam.peak()} at {result.cam.layer}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
