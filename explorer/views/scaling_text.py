"""Scaling-lab data -> sentences for the page (no torch, no streamlit)."""

from __future__ import annotations

from explorer.analysis.scaling import PublishedPoint
from explorer.formatting import human_count


def own_rule_note(off_curve: bool, phi: float) -> str:
    """What the page says when the config carries the rule in its own keys (EfficientNet)."""
    return "phi, alpha, beta and gamma are EfficientNet's own keys: move them in the sidebar. " + (
        "This config overrides width_mult/depth_mult/resolution, so it sits off the rule's curve."
        if off_curve
        else f"The curve starts from B0 (phi=0); the design is phi={phi:g}."
    )


def reference_sentence(query: str, params: int, macs: int, resolution: int, reference: PublishedPoint) -> str:
    """The design's cost as multiples of a published model's (markdown)."""
    r = reference
    return (
        f"**{query}**: {human_count(params)} parameters, {human_count(macs)} MACs at {resolution} px, which is "
        f"**×{params / r.params:.2f} the parameters and ×{macs / r.macs:.2f} the MACs of {r.name}** "
        f"({human_count(r.params)}, {human_count(r.macs)} at {r.resolution} px; depth ×{r.multipliers.depth:g}, "
        f"width ×{r.multipliers.width:g}, nominal phi {r.nominal_phi:.2f} under this rule)."
    )


def rounding_sentence(phi: float, macs: int, predicted: float, ratio: float) -> str:
    return (
        f"At phi={phi:g} the built network has **{macs:,} MACs**; the rule predicts {predicted:,.0f}, so "
        f"measured / rule = **{ratio:.3f}**. Each cause below is measured by building the phi=0 network with only "
        "that multiplier; the four ratios multiply to the total."
    )
