"""Find alpha, beta, gamma the way EfficientNet did: a small grid under alpha·beta²·gamma² ≈ 2 at
phi = 1, each point trained briefly on shapes, compared with the single-dimension baselines.

One idea a module, each importing only those before it (and nothing here imports torch when it
loads, so the pages read searches without it):

- :mod:`~explorer.analysis.search.task`: one training (a network, a seed, the recipe) and its result;
- :mod:`~explorer.analysis.search.grid`: the plan: the grid, the base and the baselines, and
  :class:`SearchSpec`, everything a search depends on;
- :mod:`~explorer.analysis.search.executors`: in-process, a local process pool, or Ray;
- :mod:`~explorer.analysis.search.results`: a trained point, as one line of ``results.jsonl``;
- :mod:`~explorer.analysis.search.store`: the search's directory (``search.json``, ``results.jsonl``);
- :mod:`~explorer.analysis.search.runner`: running the plan through an executor, resumably;
- :mod:`~explorer.analysis.search.verdict`: the ranking and the verdict (torch-free, for the views);
- :mod:`~explorer.analysis.search.settling`: more seeds for the networks the verdict rests on, and
  the background search of the Scaling lab.

The names below are the package's surface; the command line's wording stays in
:mod:`explorer.cli.search`, the pages' in :mod:`explorer.views.search_text`.
"""

from __future__ import annotations

from explorer.analysis.search.executors import (
    Cancelled,
    Executor,
    InlineExecutor,
    PoolExecutor,
    RayExecutor,
    make_executor,
)
from explorer.analysis.search.grid import (
    KINDS,
    MAX_POINTS,
    MAX_SEEDS,
    SEARCH,
    GridPoint,
    SearchSpec,
    grid_rules,
    parse_axis,
    plan,
)
from explorer.analysis.search.results import PointResult
from explorer.analysis.search.runner import run_search
from explorer.analysis.search.settling import (
    BackgroundSearch,
    settle,
    settle_targets,
    settled_networks,
    settled_seeds,
    unsettled,
)
from explorer.analysis.search.store import (
    RESULTS_FILE,
    SPEC_FILE,
    SearchRun,
    load_results,
    search_directory,
    search_root,
)
from explorer.analysis.search.task import FIRST_STEPS, TaskResult, TaskSpec, first_losses, run_task
from explorer.analysis.search.verdict import Comparison, Outcome, Ranking, Verdict, margin, ranking, t95, verdict

__all__ = [
    "FIRST_STEPS",
    "KINDS",
    "MAX_POINTS",
    "MAX_SEEDS",
    "RESULTS_FILE",
    "SEARCH",
    "SPEC_FILE",
    "BackgroundSearch",
    "Cancelled",
    "Comparison",
    "Executor",
    "GridPoint",
    "InlineExecutor",
    "Outcome",
    "PointResult",
    "PoolExecutor",
    "Ranking",
    "RayExecutor",
    "SearchRun",
    "SearchSpec",
    "TaskResult",
    "TaskSpec",
    "Verdict",
    "first_losses",
    "grid_rules",
    "load_results",
    "make_executor",
    "margin",
    "parse_axis",
    "plan",
    "ranking",
    "run_search",
    "run_task",
    "search_directory",
    "search_root",
    "settle",
    "settle_targets",
    "settled_networks",
    "settled_seeds",
    "t95",
    "unsettled",
    "verdict",
]
