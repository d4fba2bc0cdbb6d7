"""The fixed set of experiment kinds a lesson may name; each runs live with the library and returns
an :class:`Outcome` (named values, plot panels, a table). Those that train (signal, training and
deformable comparisons) are here; those that only count (profiles, scaling, memory) in
:mod:`explorer.analysis.lessons.costs`."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from explorer.analysis.lessons import fields
from explorer.analysis.lessons.costs import (
    MEMORY_PARAMS,
    PROFILE_PARAMS,
    SCALING_PARAMS,
    memory_comparison,
    profile_comparison,
    scaling_sweep,
)
from explorer.analysis.lessons.model import Config, Lesson, Outcome, Panel, Series
from explorer.analysis.lessons.saliency import PARAMS as SALIENCY_PARAMS
from explorer.analysis.lessons.saliency import saliency_sanity
from explorer.analysis.recipe import LESSON, TrainSettings, recipe_changes, recipe_params
from explorer.config import parse_query

# -- the experiments -------------------------------------------------------------------------------
#: ``progress(fraction done, what is running)``: called by the experiments that take a while.
Progress = Callable[[float, str], object]  # what it returns is ignored


@dataclass(frozen=True)
class Experiment:
    run: Callable[..., Outcome]
    #: Parameters a lesson file may set, with their defaults.
    params: dict[str, Any] = field(default_factory=dict)
    needs_configs: bool = True


def run_lesson(lesson: Lesson, device: str = "cpu", progress: Progress | None = None) -> Outcome:
    """Run the lesson's experiment now, on ``device`` (experiments that need no weights ignore it);
    the training comparison reports its progress to ``progress``."""
    if lesson.kind == "training_comparison":
        return _training_comparison(lesson, device, progress)
    return EXPERIMENTS[lesson.kind].run(lesson, device)


def _check_fits(query: str, device: str, batch: int) -> None:
    """The size guard, for the training-mode work of signal and training comparisons."""
    import torch

    from explorer.measure.profile import profile
    from explorer.runtime.guard import check_fits

    config = parse_query(query)
    check_fits(profile(config), torch.device(device), batch=batch, training=True, config=config)


def _param(lesson: Lesson, name: str) -> Any:
    return lesson.params.get(name, EXPERIMENTS[lesson.kind].params[name])


def _grouped_panel(lesson: Lesson, values: dict[str, float], metric: str, title: str, y_title: str) -> Panel | None:
    """Per group, ``metric`` against the configs' ``x`` (e.g. layer-1 gradient against depth); adds
    ``{group}.{metric}.growth`` (value at the largest x over the value at the smallest) to ``values``."""
    groups: dict[str, list[Config]] = {}
    for config in lesson.configs:
        if config.group is not None and config.x is not None:
            groups.setdefault(config.group, []).append(config)
    if not groups:
        return None
    series = []
    for group, members in groups.items():
        members.sort(key=lambda c: c.x or 0.0)  # every member has an x (filtered above)
        ys = tuple(values[f"{c.label}.{metric}"] for c in members)
        values[f"{group}.{metric}.growth"] = ys[-1] / ys[0]
        series.append(Series(group, tuple(c.x for c in members), ys))
    return Panel(title, "depth", y_title, "line", tuple(series), log_y=True)


def _signal_comparison(lesson: Lesson, device: str) -> Outcome:
    from explorer.analysis.signal import signal

    values: dict[str, float] = {}
    act, grad, table = [], [], []
    for config in lesson.configs:
        _check_fits(config.query, device, _param(lesson, "batch"))
        result = signal(
            parse_query(config.query), batch=_param(lesson, "batch"), seed=_param(lesson, "seed"), device=device
        )
        points = [p for p in result.points if p.type != "Linear"] or list(result.points)
        grads = [p.grad_norm for p in points]
        stds = [p.activation_std for p in points]
        ratio = grads[0] / grads[-1]
        metrics = {
            "first_grad": grads[0],
            "last_grad": grads[-1],
            "grad_ratio": ratio,
            "grad_spread": abs(math.log10(ratio)) if ratio > 0 and math.isfinite(ratio) else math.inf,
            "first_std": stds[0],
            "last_std": stds[-1],
            "layers": float(len(points)),
        }
        values |= {f"{config.label}.{k}": v for k, v in metrics.items()}
        depths = tuple(p.depth for p in points)
        act.append(Series(config.label, depths, tuple(stds)))
        grad.append(Series(config.label, depths, tuple(grads)))
        table.append({"config": config.label, "query": config.query, **metrics})
    panels = [
        Panel("Activation std vs depth", "conv layer", "activation std", "line", tuple(act), log_y=True),
        Panel("Gradient norm vs depth", "conv layer", "‖∂loss/∂output‖", "line", tuple(grad), log_y=True),
    ]
    highway = _grouped_panel(lesson, values, "grad_ratio", "Layer-1 gradient / last-layer gradient", "ratio")
    if highway is not None:
        panels.insert(0, highway)
    return Outcome(values, tuple(panels), tuple(table))


def training_settings(lesson: Lesson, seed: int) -> TrainSettings:
    """The recipe of one seed of a training comparison: :data:`~explorer.analysis.recipe.LESSON` with
    what the lesson file sets (no signal-flow measurement between: the lesson plots losses only)."""
    return dataclasses.replace(LESSON, seed=int(seed), **recipe_changes(lesson.params))


def training_losses(
    lesson: Lesson, device: str, progress: Progress | None = None, seeds: list[int] | None = None
) -> dict[str, list[list[float]]]:
    """Per config label, the training loss of every step, one list per seed (``seeds``: these
    instead of the lesson's), as :func:`_training_comparison` runs them."""
    from explorer.analysis.training import Fresh, TrainSpec, train

    steps = _param(lesson, "steps")
    seeds = _param(lesson, "seeds") if seeds is None else seeds
    total, done = len(lesson.configs) * len(seeds) * steps, 0
    losses: dict[str, list[list[float]]] = {}
    for config in lesson.configs:
        model_config = parse_query(config.query)
        _check_fits(config.query, device, _param(lesson, "batch"))
        runs = losses.setdefault(config.label, [])
        for seed in seeds:
            run = []
            spec = TrainSpec(model=Fresh(model_config), settings=training_settings(lesson, seed), device=device)
            for record in train(spec):
                run.append(record.loss)
                done += 1
                if progress is not None and (record.step % 10 == 0 or record.step == steps):
                    progress(done / total, f"{config.label}, seed {seed}: step {record.step}/{steps}")
            runs.append(run)
    return losses


def one_run_losses(
    lesson: Lesson, label: str, seed: int, device: str = "cpu", threads: int | None = None
) -> list[float]:
    """The training loss of every step of one config (by label) and seed: one task of
    :func:`training_losses`, for a process pool (``threads``: torch's intra-op threads, set first)."""
    import torch

    from explorer.analysis.training import Fresh, TrainSpec, train

    if threads is not None:
        torch.set_num_threads(threads)
    config = next(c for c in lesson.configs if c.label == label)
    spec = TrainSpec(model=Fresh(parse_query(config.query)), settings=training_settings(lesson, seed), device=device)
    return [r.loss for r in train(spec)]


def _moving_mean(values: list[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def training_outcome(lesson: Lesson, losses: dict[str, list[list[float]]]) -> Outcome:
    """The training comparison's values, panels and table from its losses (live or recorded):
    per config ``final_loss`` (mean over seeds of the mean of the last ``tail`` steps) and
    ``final_loss_spread`` (their std over seeds); ``chance_loss``. Runs longer than 200 steps are
    plotted as a moving mean over a fiftieth of the run."""
    steps, tail = _param(lesson, "steps"), _param(lesson, "tail")
    window = max(1, steps // 50) if steps > 200 else 1
    values: dict[str, float] = {}
    curves, finals, table = [], [], []
    for config in lesson.configs:
        runs = losses[config.label]
        ends = [statistics.fmean(run[-tail:]) for run in runs]
        mean = statistics.fmean(ends)
        spread = statistics.stdev(ends) if len(ends) > 1 else 0.0
        values |= {f"{config.label}.final_loss": mean, f"{config.label}.final_loss_spread": spread}
        length = min(len(run) for run in runs)
        curve = [statistics.fmean(run[i] for run in runs) for i in range(length)]
        curves.append(Series(config.label, tuple(range(1, length + 1)), tuple(_moving_mean(curve, window))))
        finals.append((config.label, mean, spread))
        table.append(
            {
                "config": config.label,
                "query": config.query,
                "final loss (mean)": mean,
                "spread (std over seeds)": spread,
                "per seed": ", ".join(f"{e:.3f}" for e in ends),
            }
        )
    classes = parse_query(lesson.configs[0].query).classes
    values["chance_loss"] = math.log(classes)
    bars = Series("final loss", tuple(f[0] for f in finals), tuple(f[1] for f in finals), tuple(f[2] for f in finals))
    chance = Series(f"chance (ln {classes})", (1, steps), (values["chance_loss"],) * 2)
    smoothed = f", moving mean of {window} steps" if window > 1 else ""
    return Outcome(
        values,
        (
            Panel(f"Training loss (mean over seeds{smoothed})", "step", "loss", "line", (*curves, chance)),
            Panel(f"Final loss (last {tail} steps, mean ± std over seeds)", "", "loss", "bar", (bars,)),
        ),
        tuple(table),
    )


def _training_comparison(lesson: Lesson, device: str, progress: Progress | None = None) -> Outcome:
    return training_outcome(lesson, training_losses(lesson, device, progress))


def step_seconds(lesson: Lesson, device: str, steps: int = 3) -> float:
    """Seconds the whole comparison would take on ``device``, estimated from ``steps`` timed steps
    of each config (after one untimed step), times the lesson's steps and seeds."""
    from explorer.analysis.training import Fresh, TrainSpec, train

    total = 0.0
    for config in lesson.configs:
        settings = dataclasses.replace(training_settings(lesson, 0), steps=steps + 1, images=0)
        records = list(train(TrainSpec(model=Fresh(parse_query(config.query)), settings=settings, device=device)))
        total += (records[-1].elapsed_s - records[0].elapsed_s) / steps
    return total * _param(lesson, "steps") * len(_param(lesson, "seeds"))


def _deformable_spread(lesson: Lesson, device: str) -> Outcome:
    """How far trained offsets move the sampling points: per deformable layer, the RMS distance of the
    taps from their output location, after ``steps`` steps of shapes training, over the regular grid's."""
    import numpy as np

    from explorer.analysis.deform import (
        generated_shape,
        offset_fields,
        offsets_settings,
        offsets_source,
        train_offsets,
        untrained,
    )
    from explorer.analysis.training import TrainSpec

    config = parse_query(lesson.configs[0].query)
    steps = _param(lesson, "steps")  # 0: the untrained network (the regular grid)
    settings = offsets_settings(steps=max(1, steps), seed=_param(lesson, "seed"), held_out=0)
    source = offsets_source(config, resolution=_param(lesson, "resolution"))
    spec = TrainSpec(model=source, settings=settings, device=device)
    after = train_offsets(spec).after if steps else untrained(spec)
    image, _ = generated_shape(_param(lesson, "seed"), resolution=_param(lesson, "resolution"))
    view = offset_fields(after.built, image)
    values: dict[str, float] = {}
    names, ratios, offsets, table = [], [], [], []
    for name, layer in view.fields.items():
        points, regular = layer.points(), layer.regular_points()
        centre = regular.mean(axis=2, keepdims=True)
        spread = float(np.sqrt(((points - centre) ** 2).sum(-1).mean()))
        grid = float(np.sqrt(((regular - centre) ** 2).sum(-1).mean()))
        names.append(name)
        ratios.append(spread / grid)
        offsets.append(float(layer.magnitude().mean()))
        table.append({"layer": name, "spread (px)": spread, "regular grid (px)": grid, "mean offset (px)": offsets[-1]})
    values["spread_ratio"] = statistics.fmean(ratios) if ratios else math.nan
    values["mean_offset"] = statistics.fmean(offsets) if offsets else math.nan
    return Outcome(
        values,
        (
            Panel(
                f"Sampling spread after {steps} steps / regular grid",
                "layer",
                "ratio",
                "bar",
                (Series("spread ratio", tuple(names), tuple(ratios)),),
            ),
        ),
        tuple(table),
    )


EXPERIMENTS: dict[str, Experiment] = {
    "signal_comparison": Experiment(_signal_comparison, {"batch": 8, "seed": 0}),
    # The recipe's fields (LESSON's, as TOML writes them), the seeds and the last steps averaged.
    "training_comparison": Experiment(_training_comparison, {"seeds": [0, 1, 2], "tail": 10} | recipe_params(LESSON)),
    "profile_comparison": Experiment(profile_comparison, PROFILE_PARAMS, needs_configs=False),
    "scaling_sweep": Experiment(scaling_sweep, SCALING_PARAMS, needs_configs=False),
    "deformable_spread": Experiment(_deformable_spread, {"steps": 30, "seed": 0, "resolution": 32}),
    "memory_comparison": Experiment(memory_comparison, MEMORY_PARAMS),
    "saliency_sanity": Experiment(saliency_sanity, SALIENCY_PARAMS),
    "receptive_field": Experiment(fields.receptive_field, fields.PARAMS),
}
