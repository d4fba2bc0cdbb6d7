"""The Scaling lab's analyses, cached (keyed by queries and numbers; results are plain dataclasses)."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.latency import Timing, measure
from explorer.analysis.scaling import (
    GridCell,
    PublishedPoint,
    RoundingExplanation,
    Rule,
    SweepPoint,
    explain_rounding,
    mobilenet_grid,
    published_efficientnets,
    sweep,
)
from explorer.analysis.search import GridPoint, SearchSpec, plan
from explorer.config import parse_query
from explorer.knobs import ModelConfig
from explorer.measure.profile_data import Profile
from pages._shared.caches import cached_profile


def profiler(config: ModelConfig) -> Profile:
    return cached_profile(config.query)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_sweep(query: str, rule: Rule, phis: tuple[float, ...]) -> list[SweepPoint]:
    return sweep(parse_query(query), rule, phis, profiler)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_explain(query: str, rule: Rule, phi: float) -> RoundingExplanation:
    return explain_rounding(parse_query(query), rule, phi, profiler)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_published(rule: Rule, lite: bool = False) -> list[PublishedPoint]:
    return published_efficientnets(rule, profiler, lite)


@st.cache_data(show_spinner=False)
def cached_grid() -> list[GridCell]:
    return mobilenet_grid(profiler=profiler)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_timing(query: str, device: str, batch: int, warmup: int, repeats: int) -> Timing:
    return measure(parse_query(query), device, batch, warmup, repeats, result=cached_profile(query))


@st.cache_data(max_entries=32, show_spinner=False)
def cached_plan(spec: SearchSpec) -> list[GridPoint]:
    return plan(spec, profiler)
