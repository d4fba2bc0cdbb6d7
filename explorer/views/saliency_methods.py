"""Saliency methods side by side, the sanity strip and the deletion/insertion curves: data in, pictures,
figures and words out (no torch, no streamlit).

The sanity strip is one picture a projector can show: a row per method, the trained model's map
first, then the map after each randomisation step (head to stem), each tile captioned with its
Spearman correlation to the trained map; the words (:func:`sanity_verdict`) say what the strip shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

from explorer.analysis.curves import RANDOM, CurvePair
from explorer.analysis.methods import METHODS, Attribution, Method
from explorer.analysis.sanity_data import PASS_BELOW, SanityCheck
from explorer.views.overlay import overlay

__all__ = [
    "curves_figure",
    "curves_rows",
    "method_caption",
    "normalised",
    "sanity_figure",
    "sanity_rows",
    "sanity_strip",
    "sanity_verdict",
]

#: Tile side in the strip (pixels): big enough to read on a projector.
TILE = 160
GAP = 8
LABEL_WIDTH = 185
HEADER = 30
FOOTER = 28
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


def normalised(heatmap: np.ndarray) -> np.ndarray:
    """A map scaled to [0, 1] (a flat map stays zeros)."""
    low, high = float(np.min(heatmap)), float(np.max(heatmap))
    if not high > low:
        return np.zeros_like(heatmap, dtype=np.float32)
    return ((heatmap - low) / (high - low)).astype(np.float32)


def method_caption(attribution: Attribution, cost: str) -> str:
    """Under a method's map: what it computes, what it cost, how long it took."""
    info = METHODS[attribution.method]
    layer = f" at {attribution.layer}" if attribution.layer else ""
    return f"**{info.label}**{layer}. {info.computes} Cost: {cost}; {attribution.seconds:.2f} s here."


def _rho(value: float, symbol: str = "ρ") -> str:
    """``ρ = +0.12``; the strip writes ``r`` (the built-in font has Latin letters only)."""
    return "flat map" if math.isnan(value) else f"{symbol} = {value:+.2f}"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError, ValueError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _tile(image: np.ndarray, heatmap: np.ndarray, opacity: float, colormap: str) -> Image.Image:
    picture = overlay(image, normalised(heatmap), opacity, colormap)
    return Image.fromarray(picture).resize((TILE, TILE), Image.Resampling.NEAREST)


def sanity_strip(check: SanityCheck, image: np.ndarray, opacity: float = 0.6, colormap: str = "Jet") -> np.ndarray:
    """The strip as one ``(H, W, 3)`` uint8 picture: a row per method (its name on the left), the trained map
    and then one column per randomisation step (the stage randomised, on top of those before; Spearman's
    r to the trained map below)."""
    columns = ["trained", *(f"{'' if i == 0 else '+ '}{step.stage} random" for i, step in enumerate(check.steps))]
    width = LABEL_WIDTH + len(columns) * (TILE + GAP)
    height = len(check.methods) * (HEADER + TILE + FOOTER) + GAP
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    big, small = _font(20), _font(17)
    for row, method in enumerate(check.methods):
        top = row * (HEADER + TILE + FOOTER) + GAP
        draw.text((8, top + HEADER + TILE // 2 - 12), METHODS[method].label, fill=INK, font=big)
        maps = [check.trained[method], *(step.maps[method] for step in check.steps)]
        scores = ["", *(_rho(step.spearman[method], "r") for step in check.steps)]
        for column, (name, heatmap, score) in enumerate(zip(columns, maps, scores, strict=True)):
            left = LABEL_WIDTH + column * (TILE + GAP)
            draw.text((left + 4, top + 4), name, fill=INK, font=small)
            canvas.paste(_tile(image, heatmap, opacity, colormap), (left, top + HEADER))
            draw.text((left + 4, top + HEADER + TILE + 4), score, fill=INK, font=small)
    return np.asarray(canvas)


def sanity_rows(check: SanityCheck) -> list[dict[str, object]]:
    """The strip's numbers as table rows: per step, the modules re-initialised and ρ per method."""
    return [
        {
            "randomised down to": step.stage,
            "modules": step.randomized,
            **{METHODS[m].label: (None if math.isnan(step.spearman[m]) else step.spearman[m]) for m in check.methods},
        }
        for step in check.steps
    ]


def sanity_verdict(check: SanityCheck, relu_modules: bool = True) -> list[str]:
    """One sentence per method: does its map depend on what the network learned?"""
    lines = []
    for method in check.methods:
        label = METHODS[method].label
        final, first = check.final(method), check.steps[0].spearman[method] if check.steps else math.nan
        if check.passes(method):
            ending = (
                "the randomised network's map is flat" if math.isnan(final) else f"ρ = {final:+.2f} to the trained map"
            )
            lines.append(
                f"**{label} passes**: with every layer randomised, {ending}. The map depends on what the network "
                "learned."
            )
        else:
            lines.append(
                f"**{label} fails**: even with every layer randomised its map still ranks like the trained one "
                f"(ρ = {final:+.2f}, at least {PASS_BELOW}). It shows the image more than what the network learned."
            )
        if not math.isnan(first) and first >= 0.8 and len(check.steps) > 1:
            lines[-1] += (
                f" With the head (the class weights) randomised it hardly changed (ρ = {first:+.2f}): the class "
                "it is asked about barely matters to it."
            )
    if Method.GUIDED_BACKPROP in check.methods and not relu_modules:
        lines.append(
            "This network has no `nn.ReLU` modules (ReLU6, SiLU or functional activations): captum's Guided Backprop "
            "then changes nothing, and its map is the plain gradient's."
        )
    return lines


def sanity_figure(check: SanityCheck) -> go.Figure:
    """Adebayo et al.'s plot: ρ to the trained map against how far down the randomisation has gone."""
    x = [step.stage for step in check.steps]
    fig = go.Figure()
    for method in check.methods:
        y = [None if math.isnan(step.spearman[method]) else step.spearman[method] for step in check.steps]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=METHODS[method].label))
    fig.add_hline(y=PASS_BELOW, line_dash="dot", annotation_text=f"ρ = {PASS_BELOW}", annotation_position="top left")
    fig.update_layout(
        title="Rank correlation with the trained map, randomising head → stem",
        xaxis_title="randomised down to",
        yaxis_title="Spearman ρ",
        yaxis_range=[-1, 1.05],
        height=340,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return fig


def curves_figure(pairs: Sequence[CurvePair]) -> go.Figure:
    """Deletion (left) and insertion (right) curves, one line per map, the random map dashed; AUCs in the legend."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("Deletion: lower is better", "Insertion: higher is better"))
    colours = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
    for index, pair in enumerate(pairs):
        random = pair.label == RANDOM
        colour = "#7f7f7f" if random else colours[index % len(colours)]
        line = {"color": colour, "dash": "dash" if random else "solid"}
        for column, curve, word in ((1, pair.deletion, "deletion"), (2, pair.insertion, "insertion")):
            fig.add_trace(
                go.Scatter(
                    x=[100 * f for f in curve.fractions],
                    y=list(curve.probabilities),
                    mode="lines",
                    line=line,
                    name=f"{pair.label} ({word} AUC {curve.auc:.2f})",
                    legendgroup=pair.label,
                ),
                row=1,
                col=column,
            )
    fig.update_xaxes(title_text="% of pixels removed", row=1, col=1)
    fig.update_xaxes(title_text="% of pixels revealed", row=1, col=2)
    fig.update_yaxes(title_text="probability of the class", range=[0, 1.02])
    fig.update_layout(height=380, margin={"l": 50, "r": 20, "t": 40, "b": 40}, legend={"font": {"size": 11}})
    return fig


def curves_rows(pairs: Sequence[CurvePair]) -> list[dict[str, object]]:
    """Areas under the curves, one row per map."""
    return [
        {
            "map": pair.label,
            "deletion AUC (lower: faithful)": pair.deletion.auc,
            "insertion AUC (higher)": pair.insertion.auc,
        }
        for pair in pairs
    ]
