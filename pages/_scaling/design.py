"""The design the Scaling lab studies: the rule and phi (the what-if sliders, or EfficientNet's own
keys), the network they give, its headline numbers and the curve every tab draws from."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import streamlit as st

from explorer.analysis.scaling import (
    PublishedPoint,
    Rule,
    SweepPoint,
    nearest_published,
    phi_values,
    rule_base,
    rule_config,
    series_name,
)
from explorer.formatting import human_count
from explorer.knobs import ConfigError, ModelConfig
from explorer.views.scaling_text import own_rule_note, reference_sentence
from pages._scaling.analyses import cached_published, cached_sweep
from pages._scaling.state import RULE_KEYS, url_slider
from pages._shared.caches import cached_profile

if TYPE_CHECKING:
    from explorer.measure.profile_data import Profile

SLIDER_HELP = {
    "phi": "compound coefficient",
    "alpha": "depth base: layers × alpha^phi",
    "beta": "width base: channels × beta^phi",
    "gamma": "resolution base: side × gamma^phi",
}


@dataclass(frozen=True)
class Design:
    """The sidebar's config scaled by the rule to phi, measured, with the curve it sits on."""

    base: ModelConfig
    rule: Rule
    phi: float
    config: ModelConfig
    notes: tuple[str, ...]
    #: Whether the page's sliders carry the rule (False: EfficientNet's own keys do).
    sliders: bool
    profile: Profile
    points: list[SweepPoint]
    published: list[PublishedPoint]

    @property
    def cost(self) -> tuple[str, int, int]:
        return self.profile.query, self.profile.params, self.profile.macs


def rule_controls(config: ModelConfig) -> tuple[Rule, float, ModelConfig, tuple[str, ...]]:
    """The rule, phi, the scaled config and its notes: from the sliders, or from the config's own keys."""
    own_rule = config.own_rule()
    if own_rule is not None:
        rule, phi = own_rule
        st.info(own_rule_note(rule_config(config, rule, phi).config != config, phi), icon=":material/tune:")
        return rule, phi, config, ()
    columns = st.columns(4)
    values = {
        name: url_slider(columns[i], name, url, default, lo, hi, 0.05 if name != "phi" else 0.25, SLIDER_HELP[name])
        for i, (name, (url, default, lo, hi)) in enumerate(RULE_KEYS.items())
    }
    rule, phi = Rule(values["alpha"], values["beta"], values["gamma"]), values["phi"]
    try:
        scaled = rule_config(config, rule, phi)
    except ConfigError as error:
        st.error(f"The rule cannot scale this config to phi={phi:g}: {error}")
        st.stop()
    st.caption(
        f"Base network (phi=0): the sidebar's **{config.query}**; design at phi={phi:g}: **{scaled.config.query}**"
    )
    return rule, phi, scaled.config, scaled.notes


def design_controls(config: ModelConfig) -> Design:
    rule, phi, design, notes = rule_controls(config)
    max_phi = url_slider(
        st, "Curve up to phi", "max_phi", 4.0, 1.0, 8.0, 0.5, "the table and plots show phi = 0, 1, 2, ..."
    )
    with st.spinner("Scaling…"):
        points = cached_sweep(rule_base(config).query, rule, phi_values(max_phi, phi))
        published = cached_published(rule, getattr(config, "lite", False))  # a Lite design: Lite0-Lite4
    sliders = config.own_rule() is None
    return Design(config, rule, phi, design, notes, sliders, cached_profile(design.query), points, published)


def headline(design: Design) -> None:
    """The design's numbers in a row of metrics, and against a published model of the user's choice."""
    rule, profile, published = design.rule, design.profile, design.published
    nearest = nearest_published(profile, published)
    row = st.container(horizontal=True, gap="large")  # wraps: never cut on a projector
    metric = partial(row.metric, width="content")
    metric(
        "alpha·beta²·gamma²",
        f"{rule.flops_ratio:.3f}",
        delta=f"{rule.deviation:+.3f} vs 2 ({rule.deviation / 2:+.1%})",
        delta_color="off",
        help="MACs factor per unit of phi; the paper constrains it to ≈ 2",
    )
    metric("Parameters", f"{profile.params:,}", help=profile.query)
    metric("MACs", human_count(profile.macs), help=f"{profile.macs:,} at batch 1")
    metric("Resolution", f"{profile.resolution} px")
    metric(
        "Nearest published",
        nearest.name,
        delta=f"MACs ×{nearest.macs_ratio:.2f}, params ×{nearest.params_ratio:.2f}",
        delta_color="off",
        help=f"nearest of {series_name(published)} in log parameters and log MACs",
    )
    names = [p.name for p in published]
    name = st.selectbox("Compare the design with", names, index=names.index(nearest.name))
    reference = published[names.index(name)]
    st.markdown(reference_sentence(profile.query, profile.params, profile.macs, profile.resolution, reference))
    for note in design.notes:
        st.caption(note)
