"""The deformable convolution's torch modules moved to :mod:`explorer.families.nets.deformable` (the
family modules import no torch); this name still reaches them, importing torch only when one is used.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    from explorer.families.nets import deformable

    return getattr(deformable, name)
