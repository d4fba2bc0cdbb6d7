"""Time from config to rendered figure data for the Graph page's default (auto-folded) view.

For each query: build on meta + trace + shapes/MACs (``layer_graph``), pick the detail level
(``auto_detail``), fold, lay out and build the plotly figure, then serialise it to JSON (what
Streamlit sends to the browser). Prints the best of ``--repeat`` runs per step and the total, and
exits 1 if a total exceeds ``--limit`` seconds (the page's 3 s first-render budget).

    python bench/bench_graph.py [QUERY ...] [--repeat 3] [--limit 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.analysis.graph import layer_graph
from explorer.analysis.graph.fold import auto_detail, expanded_for, fold
from explorer.config import parse_query
from explorer.families import build
from explorer.views.graph import graph_figure

DEFAULT = ["preset=resnet50", "preset=preact_resnet1001", "preset=densenet264"]


def measure(query: str) -> dict[str, float | int]:
    config = parse_query(query)
    times: dict[str, float | int] = {}
    t0 = time.perf_counter()
    built = build(config, device="meta")
    t1 = time.perf_counter()
    graph = layer_graph(config, built)
    t2 = time.perf_counter()
    level, repeats = auto_detail(graph)
    view = fold(graph, expanded_for(graph, level, repeats))
    t3 = time.perf_counter()
    figure = graph_figure(view, "params", "TB")
    payload = figure.to_json()
    t4 = time.perf_counter()
    times.update(build=t1 - t0, trace=t2 - t1, fold=t3 - t2, figure=t4 - t3, total=t4 - t0)
    times.update(nodes=len(graph.nodes), edges=len(graph.edges), shown=len(view.items), kb=len(payload) // 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="*", default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=float, default=3.0)
    args = parser.parse_args()
    print("| query | nodes | edges | shown | build s | trace s | fold s | figure s | total s | figure kB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    slow = False
    for query in args.queries:
        runs = [measure(query) for _ in range(args.repeat)]
        best = {k: min(r[k] for r in runs) for k in runs[0]}
        slow |= best["total"] > args.limit
        print(
            f"| {query} | {best['nodes']} | {best['edges']} | {best['shown']} | {best['build']:.2f} | "
            f"{best['trace']:.2f} | {best['fold']:.2f} | {best['figure']:.2f} | {best['total']:.2f} | {best['kb']} |"
        )
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
