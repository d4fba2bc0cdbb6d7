"""The fixed set of experiment kinds a lesson may name; each runs live with the library and returns
an :class:`Outcome` (named values, plot panels, a table)."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from explorer.analysis.lessons.model import Config, Lesson, Outcome, Panel, Series
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


def _published(preset: str) -> tuple[float, str] | None:
    from explorer.analysis.published import torchvision_name, torchvision_weights

    model = torchvision_name(preset)
    if model is None:
        return None
    entries = torchvision_weights(model, preset)
    entry = next((e for e in entries if e.weights == "IMAGENET1K_V1"), None) or next(e for e in entries if e.default)
    return entry.top1, entry.weights


def _profile_comparison(lesson: Lesson, device: str) -> Outcome:
    from explorer.measure.profile import profile

    mode = _param(lesson, "mode")
    if mode == "separable":
        return _separable(lesson)
    if mode == "published":
        return _published_scatter(lesson)
    values: dict[str, float] = {}
    table = []
    for config in lesson.configs:
        model_config = parse_query(config.query)
        result = profile(model_config)
        row: dict[str, Any] = {
            "config": config.label,
            "query": result.query,
            "params": result.params,
            "macs": result.macs,
        }
        values |= {f"{config.label}.params": result.params, f"{config.label}.macs": result.macs}
        preset = dict(part.split("=", 1) for part in config.query.split("&")).get("preset")
        published = _published(preset) if preset else None
        if published is not None:
            values[f"{config.label}.top1"] = published[0]
            row |= {"top-1 (torchvision)": published[0], "weights": published[1]}
        table.append(row)
    labels = tuple(c.label for c in lesson.configs)
    if len(labels) >= 2:  # the last config against the first
        values["params_ratio"] = values[f"{labels[-1]}.params"] / values[f"{labels[0]}.params"]
        values["macs_ratio"] = values[f"{labels[-1]}.macs"] / values[f"{labels[0]}.macs"]
    panels = [
        Panel(
            "Parameters",
            "",
            "parameters",
            "bar",
            (Series("params", labels, tuple(values[f"{c}.params"] for c in labels)),),
        ),
        Panel(
            "MACs at batch 1", "", "MACs", "bar", (Series("MACs", labels, tuple(values[f"{c}.macs"] for c in labels)),)
        ),
    ]
    if all(f"{c}.top1" in values for c in labels):
        panels.append(
            Panel(
                "Published top-1 (ImageNet, torchvision)",
                "",
                "top-1 %",
                "bar",
                (Series("top-1", labels, tuple(values[f"{c}.top1"] for c in labels)),),
            )
        )
    return Outcome(values, tuple(panels), tuple(table))


def _conv_macs(*layers: Any, channels: int, side: int) -> int:
    """MACs of ``layers`` applied in turn to a ``channels x side x side`` input (meta device)."""
    import torch

    from explorer.measure.counting import counting

    x = torch.zeros(1, channels, side, side, device="meta")
    with counting() as counter, torch.no_grad():
        for layer in layers:
            x = layer.to("meta")(x)
    return counter.total // 2


def separable_ratio(dk: int, m: int, n: int, side: int = 14) -> tuple[int, int]:
    """Measured MACs of a standard ``dk x dk`` conv M->N and of its depthwise-separable version
    (depthwise ``dk x dk`` on M channels, then a 1x1 conv M->N), on a ``side x side`` map, no bias."""
    from torch import nn

    standard = _conv_macs(nn.Conv2d(m, n, dk, padding=dk // 2, bias=False), channels=m, side=side)
    separable = _conv_macs(
        nn.Conv2d(m, m, dk, padding=dk // 2, groups=m, bias=False),
        nn.Conv2d(m, n, 1, bias=False),
        channels=m,
        side=side,
    )
    return standard, separable


def _separable(lesson: Lesson) -> Outcome:
    dk, m, n, side = (int(_param(lesson, k)) for k in ("dk", "m", "n", "side"))
    standard, separable = separable_ratio(dk, m, n, side)
    values = {
        "standard_macs": standard,
        "separable_macs": separable,
        "measured_ratio": separable / standard,
        "formula_ratio": 1 / n + 1 / dk**2,
    }
    values["formula_error"] = abs(values["measured_ratio"] - values["formula_ratio"]) / values["formula_ratio"]
    panels, table = [], []
    for kernel in sorted({1, 3, 5, 7, dk}):
        outputs = sorted({8, 32, 128, 512, n})
        measured = []
        for out in outputs:
            s, d = separable_ratio(kernel, m, out, side)
            measured.append(d / s)
            table.append(
                {
                    "Dk": kernel,
                    "M": m,
                    "N": out,
                    "standard MACs": s,
                    "separable MACs": d,
                    "measured ratio": d / s,
                    "1/N + 1/Dk²": 1 / out + 1 / kernel**2,
                }
            )
        panels.append(Series(f"measured, Dk={kernel}", tuple(outputs), tuple(measured)))
        panels.append(
            Series(f"1/N + 1/Dk², Dk={kernel}", tuple(outputs), tuple(1 / o + 1 / kernel**2 for o in outputs))
        )
    return Outcome(
        values,
        (
            Panel(
                f"Separable / standard MACs (M={m}, {side}×{side} map)",
                "N (output channels)",
                "cost ratio",
                "line",
                tuple(panels),
                log_y=True,
                log_x=True,
            ),
        ),
        tuple(table),
    )


def _published_scatter(lesson: Lesson) -> Outcome:
    from explorer.analysis.published import published_accuracies

    entries = published_accuracies(_param(lesson, "weights"))
    values: dict[str, float] = {}
    for entry in entries:
        values[f"{entry.preset}.top1"] = entry.top1
        values[f"{entry.preset}.params"] = entry.params
    series = Series(
        "torchvision ImageNet weights",
        tuple(e.params for e in entries),
        tuple(e.top1 for e in entries),
        text=tuple(e.preset or e.model for e in entries),
    )
    table = tuple(
        {"model": e.preset, "params": e.params, "GMACs": e.gmacs, "top-1": e.top1, "weights": e.weights}
        for e in entries
    )
    return Outcome(
        values,
        (Panel("Published top-1 against parameters", "parameters", "top-1 %", "scatter", (series,), log_x=True),),
        table,
    )


def _scaling_sweep(lesson: Lesson, device: str) -> Outcome:
    mode = _param(lesson, "mode")
    if mode == "mobilenet":
        return _mobilenet(lesson)
    from explorer.analysis.scaling import Rule, sweep

    rule = Rule(alpha=_param(lesson, "alpha"), beta=_param(lesson, "beta"), gamma=_param(lesson, "gamma"))
    phis = [float(p) for p in _param(lesson, "phis")]
    points = sweep(parse_query(lesson.configs[0].query), rule, phis)
    base = points[0].macs
    values: dict[str, float] = {}
    table = []
    for point in points:
        key = f"phi{point.phi:g}"
        values |= {
            f"{key}.macs_ratio": point.macs / base,
            f"{key}.nominal": 2.0**point.phi,
            f"{key}.vs_nominal": point.macs / point.nominal_macs,
            f"{key}.vs_rule": point.macs_vs_rule,
        }
        table.append(
            {
                "φ": point.phi,
                "query": point.query,
                "MACs": point.macs,
                "measured ×": point.macs / base,
                "2^φ": 2.0**point.phi,
                "rule (αβ²γ²)^φ": point.predicted_macs / base,
                "notes": "; ".join(point.notes),
            }
        )
    xs = tuple(p.phi for p in points)
    return Outcome(
        values,
        (
            Panel(
                "MACs relative to φ=0",
                "φ",
                "× MACs",
                "line",
                (
                    Series("measured", xs, tuple(p.macs / base for p in points)),
                    Series("2^φ", xs, tuple(2.0**p.phi for p in points)),
                    Series("(αβ²γ²)^φ", xs, tuple(p.predicted_macs / base for p in points)),
                ),
                log_y=True,
            ),
        ),
        tuple(table),
    )


def _mobilenet(lesson: Lesson) -> Outcome:
    from explorer.analysis.scaling import mobilenet_grid

    alphas = [float(a) for a in _param(lesson, "alphas")]
    sides = [int(r) for r in _param(lesson, "resolutions")]
    cells = mobilenet_grid(alphas, sides)
    full = next(c for c in cells if c.alpha == max(alphas) and c.resolution == max(sides))
    values: dict[str, float] = {}
    table, series = [], []
    for alpha in alphas:
        row = [c for c in cells if c.alpha == alpha]
        measured = tuple(c.macs / full.macs for c in row)
        series.append(Series(f"α={alpha:g} measured", tuple(c.resolution for c in row), measured))
        series.append(
            Series(
                f"α={alpha:g}: α²ρ²",
                tuple(c.resolution for c in row),
                tuple((alpha / max(alphas)) ** 2 * (c.resolution / max(sides)) ** 2 for c in row),
            )
        )
    for cell in cells:
        predicted = (cell.alpha / max(alphas)) ** 2 * (cell.resolution / max(sides)) ** 2
        key = f"a{cell.alpha:g}_r{cell.resolution}"
        values |= {
            f"{key}.macs_ratio": cell.macs / full.macs,
            f"{key}.predicted": predicted,
            f"{key}.vs_predicted": cell.macs / full.macs / predicted,
        }
        table.append(
            {
                "α": cell.alpha,
                "resolution": cell.resolution,
                "MACs": cell.macs,
                "params": cell.params,
                "measured / full": cell.macs / full.macs,
                "α²ρ²": predicted,
            }
        )
    values["worst_vs_predicted"] = max(abs(v - 1) for k, v in values.items() if k.endswith(".vs_predicted"))
    return Outcome(
        values,
        (
            Panel(
                "MobileNet-V1 MACs relative to α=1, 224 px", "resolution", "× MACs", "line", tuple(series), log_y=True
            ),
        ),
        tuple(table),
    )


def _memory_comparison(lesson: Lesson, device: str) -> Outcome:
    from explorer.measure.memory import training_memory
    from explorer.measure.profile import profile

    batch = _param(lesson, "batch")
    values: dict[str, float] = {}
    table, saved, inference = [], [], []
    for config in lesson.configs:
        model_config = parse_query(config.query)
        memory = training_memory(model_config, batch)
        result = profile(model_config)
        values |= {
            f"{config.label}.saved_bytes": memory.saved_bytes,
            f"{config.label}.params": result.params,
            f"{config.label}.activation_bytes": result.activation_bytes * batch,
            f"{config.label}.saved_per_param": memory.saved_bytes / result.params,
        }
        saved.append(memory.saved_bytes / 1e6)
        inference.append(result.activation_bytes * batch / 1e6)
        table.append(
            {
                "config": config.label,
                "query": result.query,
                "params": result.params,
                f"saved for backward, batch {batch} (MB)": memory.saved_bytes / 1e6,
                f"inference activations, batch {batch} (MB)": result.activation_bytes * batch / 1e6,
            }
        )
    labels = tuple(c.label for c in lesson.configs)
    return Outcome(
        values,
        (
            Panel(
                f"Memory at batch {batch}",
                "",
                "MB",
                "bar",
                (
                    Series("saved for backward (training)", labels, tuple(saved)),
                    Series("all layer outputs (inference)", labels, tuple(inference)),
                ),
            ),
        ),
        tuple(table),
    )


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
    "profile_comparison": Experiment(
        _profile_comparison,
        {"mode": "configs", "dk": 3, "m": 64, "n": 128, "side": 14, "weights": "default"},
        needs_configs=False,
    ),
    "scaling_sweep": Experiment(
        _scaling_sweep,
        {
            "mode": "compound",
            "alpha": 1.2,
            "beta": 1.1,
            "gamma": 1.15,
            "phis": [0, 1, 2, 3],
            "alphas": [1.0, 0.75, 0.5, 0.25],
            "resolutions": [224, 192, 160, 128],
        },
        needs_configs=False,
    ),
    "deformable_spread": Experiment(_deformable_spread, {"steps": 30, "seed": 0, "resolution": 32}),
    "memory_comparison": Experiment(_memory_comparison, {"batch": 8}),
}
