"""The ``receptive_field`` experiment of the lessons: the effective receptive field (Luo et al., 2016)
of each config's last place along the depth, against its theoretical side.

Per config, measured now: ``rms_radius`` (px), ``side95``, ``theoretical`` (the Graph page's side),
``share`` (the RMS radius over the theoretical half-side); with ``inputs = "shapes"`` the field of
each generated shape alone, and ``size_corr``: the Pearson correlation of those radii with the
shapes' sizes (the square root of their box's area): whether the field follows the object.
Across configs, the last over the first: ``radius_growth`` and ``theoretical_growth``.
Weights: ``"fresh"`` (seed 0) or ``"shipped"`` (the shipped model of exactly the config's
architecture; an error naming the config where there is none).
"""

from __future__ import annotations

import statistics
from typing import TYPE_CHECKING, Any

from explorer.analysis.lessons.model import Lesson, Outcome, Panel, Series
from explorer.config import parse_query
from explorer.errors import InputError

if TYPE_CHECKING:  # the lessons load without torch: the model is built inside the run
    from explorer.runtime.weights import ExplainableModel

#: The experiment's parameters and their defaults (``EXPERIMENTS["receptive_field"]``).
PARAMS: dict[str, Any] = {"samples": 8, "seed": 0, "inputs": "noise", "images": 48, "weights": "fresh"}


def _param(lesson: Lesson, name: str) -> Any:
    return lesson.params.get(name, PARAMS[name])


def _model(query: str, weights: str, device: str) -> ExplainableModel:
    from explorer.analysis.features import fresh_model
    from explorer.runtime.shipped import load_shipped, same_architecture, shipped_models

    config = parse_query(query)
    if weights == "fresh":
        return fresh_model(config, device)
    if weights != "shipped":
        raise InputError(f"weights '{weights}'; allowed: fresh, shipped")
    for shipped in shipped_models():
        if shipped.family == config.family and same_architecture(shipped.config, config):
            return load_shipped(shipped, device)
    raise InputError(f"no shipped model has the architecture of '{query}'")


def _spaced(count: int) -> list[int]:
    """Places 1, 2, 4, 8, ... and the last (1-based): the curve without a gradient at every place
    (each costs a backward pass down to the input)."""
    places = [1]
    while places[-1] * 2 < count:
        places.append(places[-1] * 2)
    return sorted({*places, count})


def receptive_field(lesson: Lesson, device: str = "cpu") -> Outcome:
    import numpy as np

    from explorer.analysis.erf import effective_fields, image_inputs, noise_inputs, per_input_fields
    from explorer.analysis.features import depth_layers
    from explorer.data.samples import shape_box, shape_image

    inputs_kind, weights = _param(lesson, "inputs"), _param(lesson, "weights")
    if inputs_kind not in ("noise", "shapes"):
        raise InputError(f"inputs '{inputs_kind}'; allowed: noise, shapes")
    values: dict[str, float] = {}
    table: list[dict[str, Any]] = []
    curves: list[Series] = []
    for config in lesson.configs:
        model = _model(config.query, weights, device)
        layers = [layer.name for layer in depth_layers(model.built)]
        side = model.config.input_resolution
        if inputs_kind == "noise":
            places = _spaced(len(layers))
            layers = [layers[p - 1] for p in places]
            fields = effective_fields(
                model.built, noise_inputs(model.config, _param(lesson, "samples"), _param(lesson, "seed")), layers
            )
            last = fields[-1]
            radius, side95 = last.rms_radius, last.side95
            curves.append(Series(config.label, tuple(places), tuple(f.rms_radius for f in fields)))
        else:
            seeds = range(_param(lesson, "seed"), _param(lesson, "seed") + _param(lesson, "images"))
            pictures = [shape_image(s, side) for s in seeds]
            boxes = [shape_box(s, side) for s in seeds]
            sizes = [((b[2] - b[0]) * (b[3] - b[1])) ** 0.5 for b in boxes]
            fields = per_input_fields(model.built, image_inputs(model, pictures), layers[-1])
            last = fields[0]
            radii = [f.rms_radius for f in fields]
            radius, side95 = statistics.fmean(radii), int(statistics.median(f.side95 for f in fields))
            values[f"{config.label}.size_corr"] = float(np.corrcoef(radii, sizes)[0, 1])
            values[f"{config.label}.radius_spread"] = statistics.stdev(radii)
            curves.append(Series(config.label, tuple(sizes), tuple(radii)))
        theoretical = last.theoretical.side or 0
        values |= {
            f"{config.label}.rms_radius": radius,
            f"{config.label}.side95": float(side95),
            f"{config.label}.theoretical": float(theoretical),
            f"{config.label}.share": radius / (theoretical / 2) if theoretical else float("nan"),
        }
        row: dict[str, Any] = {"config": config.label, "query": model.config.query, "layer": last.layer}
        row["weights"] = model.weights
        row |= {"RMS radius (px)": radius, "95 % square (px)": side95, "theoretical side (px)": theoretical}
        if inputs_kind == "shapes":
            row["correlation with size"] = values[f"{config.label}.size_corr"]
        table.append(row)
    first, final = lesson.configs[0].label, lesson.configs[-1].label
    values["radius_growth"] = values[f"{final}.rms_radius"] / values[f"{first}.rms_radius"]
    if values[f"{first}.theoretical"]:
        values["theoretical_growth"] = values[f"{final}.theoretical"] / values[f"{first}.theoretical"]
    panels: tuple[Panel, ...]
    if inputs_kind == "noise":
        labels = tuple(c.label for c in lesson.configs)
        panels = (
            Panel("Effective RMS radius along the depth", "place along the depth", "px", "line", tuple(curves)),
            Panel(
                "Effective against theoretical, at the last layer",
                "",
                "px",
                "bar",
                (
                    Series("effective RMS radius", labels, tuple(values[f"{c}.rms_radius"] for c in labels)),
                    Series("theoretical half-side", labels, tuple(values[f"{c}.theoretical"] / 2 for c in labels)),
                ),
            ),
        )
    else:
        panels = (
            Panel(
                "Effective RMS radius per shape against its size",
                "shape size (px)",
                "RMS radius (px)",
                "scatter",
                tuple(curves),
            ),
        )
    return Outcome(values, panels, tuple(table))
