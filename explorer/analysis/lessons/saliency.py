"""The lesson experiment ``saliency_sanity``: Adebayo et al.'s cascading randomisation on a shipped (trained)
model, averaged over a few generated shapes; values per method label, e.g. ``Guided Backprop.after_head``."""

from __future__ import annotations

import math
import statistics
from typing import Any

from explorer.analysis.lessons.model import Lesson, Outcome, Panel, Series
from explorer.config import parse_query
from explorer.errors import InputError

#: The experiment's parameters and their defaults.
PARAMS: dict[str, Any] = {"methods": ["gradcam", "gradients", "guided_backprop"], "images": 8, "seed": 0}


def _mean(values: list[float]) -> float:
    """The mean ρ over images; a flat map (NaN) keeps no ranking: it counts as 0."""
    return statistics.fmean(0.0 if math.isnan(v) else v for v in values)


def saliency_sanity(lesson: Lesson, device: str) -> Outcome:
    """Per method: mean Spearman ρ to the trained map after the head is randomised (``after_head``) and after
    every layer is (``final``), over ``images`` generated shapes; a panel of ρ against the stage reached."""
    from explorer.analysis.attribution import model_input
    from explorer.analysis.methods import METHODS, Method
    from explorer.analysis.sanity import cascading_randomization
    from explorer.data.samples import shape_image
    from explorer.runtime.shipped import load_shipped, shipped_models

    params = {**PARAMS, **lesson.params}
    config = parse_query(lesson.configs[0].query)
    shipped = next((s for s in shipped_models() if s.config == config), None)
    if shipped is None:
        raise InputError(f"the sanity check needs a trained model: '{config.query}' is not a shipped model's query")
    model = load_shipped(shipped, device)
    methods = [Method(m) for m in params["methods"]]
    side = model.config.input_resolution
    checks = [
        cascading_randomization(model.built, model_input(model, shape_image(params["seed"] + i, side)), methods)
        for i in range(params["images"])
    ]
    stages = [step.stage for step in checks[0].steps]
    values: dict[str, float] = {}
    series, table = [], []
    for method in methods:
        label = METHODS[method].label
        curve = tuple(_mean([c.steps[k].spearman[method] for c in checks]) for k in range(len(stages)))
        values[f"{label}.after_head"], values[f"{label}.final"] = curve[0], curve[-1]
        series.append(Series(label, tuple(stages), curve))
    for k, stage in enumerate(stages):
        table.append({"randomised down to": stage, **{s.label: s.y[k] for s in series}})
    panel = Panel(
        "Rank correlation with the trained map (mean over shapes)",
        "randomised down to",
        "Spearman ρ",
        "line",
        tuple(series),
    )
    return Outcome(values, (panel,), tuple(table))
