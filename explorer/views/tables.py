"""Profiles as pandas tables (for display and CSV download).

pandas is imported where a table is made (about 0.45 s of one core): the Build page's numbers
are drawn before its first table, on a fresh server too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from explorer.measure.profile_data import Profile

if TYPE_CHECKING:
    import pandas as pd
from explorer.formatting import shape_text


def layer_frame(profile: Profile, flops: bool = False) -> pd.DataFrame:
    """One row per layer; a ``FLOPs`` column (2 x MACs) replaces ``MACs`` when ``flops``."""
    import pandas as pd

    work = "FLOPs" if flops else "MACs"
    factor = 2 if flops else 1
    return pd.DataFrame(
        {
            "layer": [r.name for r in profile.layers],
            "type": [r.type for r in profile.layers],
            "stage": [r.stage for r in profile.layers],
            "depth": pd.array([r.depth for r in profile.layers], dtype="Int64"),
            "output shape": [shape_text(r.output_shape) for r in profile.layers],
            "stride": pd.array([r.stride for r in profile.layers], dtype="Int64"),
            "params": [r.params for r in profile.layers],
            work: [factor * r.macs for r in profile.layers],
            "activation bytes": [r.activation_bytes for r in profile.layers],
        }
    )


def group_frame(profile: Profile, by: str, flops: bool = False) -> pd.DataFrame:
    import pandas as pd

    frame = pd.DataFrame(profile.grouped(by))
    if flops:
        frame["macs"] = frame["macs"] * 2
        frame = frame.rename(columns={"macs": "flops"})
    return frame


#: Words that mark a column of exact counts (parameters, multiply-adds, bytes): thousands separators.
_COUNT_WORDS = ("params", "parameters", "macs", "flops", "bytes", "tensors")
#: Words that mark a column of fractions in [0, 1]: shown as percentages.
_FRACTION_WORDS = ("probability", "accuracy", "share")


def number_formats(columns: Mapping[str, Iterable[Any]]) -> dict[str, str]:
    """How a table's number columns read for people, from each column's name and values (``columns``:
    name -> values): Streamlit's number formats (``localized``: 118,013,952; ``percent``: 97.3%),
    so a column still sorts as numbers. Ratios ("MACs / rule") keep the format their page gives them,
    and a column of percentages already (a published top-1 of 76.1) stays as it is."""
    formats = {}
    for column, values in columns.items():
        name = str(column).lower()
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if not numbers or "/" in name or " x" in name:
            continue
        if any(word in name for word in _COUNT_WORDS):
            formats[str(column)] = "localized"
        elif any(word in name for word in _FRACTION_WORDS) and all(0 <= v <= 1 for v in numbers):
            formats[str(column)] = "percent"
    return formats
