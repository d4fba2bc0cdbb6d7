"""Profiles as pandas tables (for display and CSV download).

pandas is imported where a table is made (about 0.45 s of one core): the Build page's numbers
are drawn before its first table, on a fresh server too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.analysis.profile_data import Profile

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
