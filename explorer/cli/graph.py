"""``python -m explorer graph QUERY --format json|dot``: the layer graph as data.

JSON: the whole graph (nodes with shapes, params, MACs, receptive fields; edges; the group
hierarchy) plus ``view``, the items and edges shown at the chosen fold level. DOT: that view for
Graphviz (``dot -Tsvg``), unfolded groups as clusters.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from explorer.cli.base import UsageError, print_json

if TYPE_CHECKING:
    import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="e.g. preset=resnet50 or 'preset=resnet50&deform=4'")
    parser.add_argument("--format", choices=("json", "dot"), default="json", help="json (default) or dot")
    parser.add_argument(
        "--fold",
        default="auto",
        help="auto (a readable size), none (every layer), or a detail level 1, 2, ... (1 = stages)",
    )
    parser.add_argument("--unfold-repeats", action="store_true", help="also unfold runs of identical blocks (x N)")
    parser.add_argument("--rankdir", choices=("LR", "TB"), default="LR", help="DOT layout direction")


def run(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.analysis.graph import layer_graph
    from explorer.analysis.graph.fold import all_groups, auto_detail, expanded_for, fold, to_dot
    from explorer.config import parse_query

    graph = layer_graph(parse_query(args.query))
    if args.fold == "auto":
        level, repeats = auto_detail(graph)
        expanded = expanded_for(graph, level, repeats or args.unfold_repeats)
    elif args.fold == "none":
        expanded = all_groups(graph)
    else:
        try:
            level = int(args.fold)
        except ValueError:
            raise UsageError(f"--fold must be auto, none or a level number, not '{args.fold}'") from None
        if level < 1:
            raise UsageError("--fold level must be at least 1")
        expanded = expanded_for(graph, level, args.unfold_repeats)
    view = fold(graph, expanded)
    if args.format == "dot":
        print(to_dot(view, args.rankdir), end="")
        return 0
    data = graph.to_dict()
    data["view"] = {
        "expanded": sorted(view.expanded),
        "items": [
            {"id": i.id, "label": i.label, "kind": i.kind, "layers": i.layers, "repeat": i.repeat} for i in view.items
        ],
        "edges": [list(e) for e in view.edges],
    }
    print_json(data)
    return 0
