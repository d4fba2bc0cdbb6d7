"""``python -m explorer scaling QUERY``: the compound-scaling curve of a config, its rounding
factors at the chosen phi and the nearest published EfficientNet; ``--measure`` adds latency.

For an EfficientNet query the rule is the query's own phi/alpha/beta/gamma; for any other family
pass ``--phi`` and ``--alpha/--beta/--gamma`` (the paper's 1.2/1.1/1.15 by default).
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from explorer.cli.base import UsageError, print_json
from explorer.compound import COEFFICIENT_RANGE, PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, PHI_RANGE, Rule
from explorer.formatting import human_count

if TYPE_CHECKING:
    import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="e.g. 'family=efficientnet&phi=3&beta=1.2' or preset=resnet18")
    parser.add_argument("--max-phi", type=float, default=4.0, help="curve from phi=0 to this (default 4)")
    parser.add_argument("--phi", type=float, default=None, help="phi of the design (non-EfficientNet; default 1)")
    for name, what, default in (
        ("alpha", "depth", PAPER_ALPHA),
        ("beta", "width", PAPER_BETA),
        ("gamma", "resolution", PAPER_GAMMA),
    ):
        parser.add_argument(
            f"--{name}", type=float, default=None, help=f"{what} base (non-EfficientNet; default {default})"
        )
    parser.add_argument("--measure", action="store_true", help="also measure forward latency of the design")
    parser.add_argument("--batch", type=int, default=1, help="batch for --measure (default 1)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _rule_and_phi(args: argparse.Namespace, config: Any) -> tuple[Rule, float]:
    given = {k: getattr(args, k) for k in ("phi", "alpha", "beta", "gamma") if getattr(args, k) is not None}
    own = config.own_rule()
    if own is not None:
        if given:
            raise UsageError(
                f"--{next(iter(given))}: an EfficientNet query carries its own rule; write it in the query "
                "(e.g. 'family=efficientnet&phi=3&beta=1.2')"
            )
        return own
    low, high = COEFFICIENT_RANGE
    for name in ("alpha", "beta", "gamma"):
        if name in given and not low <= given[name] <= high:
            raise UsageError(f"--{name}={given[name]} is out of range; allowed: a number from {low:g} to {high:g}")
    phi = given.get("phi", 1.0)
    if not PHI_RANGE[0] <= phi <= PHI_RANGE[1]:
        raise UsageError(f"--phi={phi} is out of range; allowed: a number from {PHI_RANGE[0]:g} to {PHI_RANGE[1]:g}")
    return Rule(given.get("alpha", PAPER_ALPHA), given.get("beta", PAPER_BETA), given.get("gamma", PAPER_GAMMA)), phi


def run(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.analysis.latency import measure
    from explorer.analysis.scaling import (
        explain_rounding,
        nearest_published,
        phi_values,
        published_efficientnets,
        rule_config,
        sweep,
    )
    from explorer.config import parse_query
    from explorer.measure.profile import profile

    if not 0.0 <= args.max_phi <= 8.0:
        raise UsageError(f"--max-phi={args.max_phi} is out of range; allowed: a number from 0 to 8")
    if args.batch < 1:
        raise UsageError("--batch must be at least 1")
    config = parse_query(args.query)
    rule, phi = _rule_and_phi(args, config)
    design = rule_config(config, rule, phi)
    points = sweep(config, rule, phi_values(args.max_phi, phi))
    explanation = explain_rounding(config, rule, phi)
    published = published_efficientnets(rule, lite=getattr(config, "lite", False))
    design_profile = profile(design.config)
    nearest = nearest_published(design_profile, published)
    record: dict[str, Any] = {
        "query": design_profile.query,
        "rule": {**asdict(rule), "phi": phi, "flops_ratio": rule.flops_ratio, "deviation_from_2": rule.deviation},
        "design": {
            "params": design_profile.params,
            "macs": design_profile.macs,
            "resolution": design_profile.resolution,
            "notes": list(design.notes),
            "unapplied": list(design.unapplied),
        },
        "curve": [
            {
                "phi": p.phi,
                "query": p.query,
                "resolution": p.resolution,
                "params": p.params,
                "macs": p.macs,
                "predicted_macs": p.predicted_macs,
                "nominal_macs": p.nominal_macs,
                "predicted_params": p.predicted_params,
                "macs_vs_rule": p.macs_vs_rule,
                "stages": [asdict(s) for s in p.stages],
            }
            for p in points
        ],
        "rounding": {
            "phi": explanation.phi,
            "macs_vs_rule": explanation.ratio,
            "factors": [{**asdict(f), "ratio": f.ratio} for f in explanation.factors],
        },
        "published": [
            {"name": p.name, "nominal_phi": p.nominal_phi, "params": p.params, "macs": p.macs} for p in published
        ],
        "nearest_published": asdict(nearest),
    }
    if args.measure:
        timing = measure(design.config, device, batch=args.batch, result=design_profile)
        record["latency"] = timing.to_dict()
    if args.json:
        print_json(record)
        return 0
    print(
        f"{record['query']}   rule alpha={rule.alpha:g} beta={rule.beta:g} gamma={rule.gamma:g} phi={phi:g}: "
        f"alpha*beta^2*gamma^2 = {rule.flops_ratio:.4f} ({rule.deviation:+.4f} vs 2)"
    )
    for note in design.notes:
        print(f"  note: {note}")
    print(f"  {'phi':>5} {'px':>5} {'params':>14} {'MACs':>16} {'rule MACs':>16} {'measured/rule':>14}")
    for p in points:
        print(
            f"  {p.phi:>5g} {p.resolution:>5} {p.params:>14,} {p.macs:>16,} {p.predicted_macs:>16,.0f} "
            f"{p.macs_vs_rule:>14.3f}"
        )
    print(f"  at phi={phi:g}, measured/rule = {explanation.ratio:.3f} = product of:")
    for f in explanation.factors:
        print(f"    {f.name:<12} x{f.ratio:.3f}  {f.sentence}")
    print(
        f"  nearest published: {nearest.name} (params x{nearest.params_ratio:.2f}, MACs x{nearest.macs_ratio:.2f}); "
        + ", ".join(f"{p.name} {human_count(p.params)}/{human_count(p.macs)}" for p in published)
    )
    if args.measure:
        t = record["latency"]
        print(
            f"  measured on {t['device']} at batch {t['batch']}: median {t['median_s'] * 1000:.1f} ms, "
            f"{t['throughput']:.1f} img/s, {t['ns_per_mac']:.2f} ns/MAC"
        )
    return 0
