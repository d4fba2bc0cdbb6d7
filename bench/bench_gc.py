"""What full garbage collections cost a server, with and without the freeze of explorer.runtime.heap.

    python bench/bench_gc.py [--configs 30]

Two fresh processes count ``--configs`` new ResNet-50 configs each (profile and training memory on
the meta device, as the Build page does for a config never seen), one after ``freeze_imports()``
and one without; each prints the CPU seconds of the counts and the collector's pauses by generation
(timed through ``gc.callbacks``). Printed last: the ratio of the two runs' CPU time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import gc, json, sys, time
sys.path.insert(0, {root!r})
import torch
torch.set_num_threads(1)
from explorer.config import parse_query
from explorer.measure.memory import training_memory
from explorer.measure.profile import profile
from explorer.runtime.heap import freeze_imports
import pandas, plotly.graph_objects, torchvision  # what a server has imported by then
if {freeze}:
    freeze_imports()
started, pauses = {{}}, []
def timed(phase, info):
    if phase == "start":
        started["t"] = time.perf_counter()
    else:
        pauses.append((info["generation"], time.perf_counter() - started["t"]))
gc.callbacks.append(timed)
tracked = len(gc.get_objects())
cpu = time.process_time()
for side in range(100, 100 + {configs}):
    config = parse_query(f"preset=resnet50&resolution={{side}}")
    profile(config)
    training_memory(config)
cpu = time.process_time() - cpu
full = [p for g, p in pauses if g == 2]
print(json.dumps({{"cpu": cpu, "tracked": tracked, "pauses": len(pauses), "paused": sum(p for _, p in pauses),
                  "full": len(full), "full_paused": sum(full)}}))
"""


def run(freeze: bool, configs: int) -> dict:
    code = CHILD.format(root=str(ROOT), freeze=freeze, configs=configs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", type=int, default=30)
    args = parser.parse_args()
    results = {}
    for freeze in (False, True):
        r = results[freeze] = run(freeze, args.configs)
        label = "frozen" if freeze else "not frozen"
        print(
            f"{label:>10}: {r['cpu']:.2f} s CPU for {args.configs} configs; objects walked by a full collection "
            f"{r['tracked']:,}; {r['pauses']} collections, {r['paused']:.2f} s; full ones {r['full']}, "
            f"{r['full_paused']:.2f} s"
        )
    print(f"frozen / not frozen CPU time: {results[True]['cpu'] / results[False]['cpu']:.2f}")


if __name__ == "__main__":
    main()
