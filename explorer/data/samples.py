"""Sample images: the photographs that ship in assets/samples (CC0 / public domain, see its
LICENSE.md) and single pictures of the generated shapes data set."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from explorer.data.images import decode_image
from explorer.errors import InputError

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "assets" / "samples"
SAMPLES: dict[str, str] = {
    "Chelsea the cat": "chelsea.png",
    "Coffee cup": "coffee.png",
    "Rocket launch": "rocket.jpg",
}
CREDITS: dict[str, str] = {
    "Chelsea the cat": "CC0, Stefan van der Walt (scikit-image sample data)",
    "Coffee cup": "CC0, Rachel Michetti (scikit-image sample data)",
    "Rocket launch": "public domain, SpaceX (scikit-image sample data)",
}


def load_sample(name: str) -> Image.Image:
    if name not in SAMPLES:
        raise InputError(f"unknown sample '{name}'; allowed: {', '.join(SAMPLES)}")
    return decode_image((SAMPLE_DIR / SAMPLES[name]).read_bytes())


def shape_image(seed: int, resolution: int = 128, shape: str | None = None) -> Image.Image:
    """One image of the shapes data set (index 0 of ``seed``; only ``shape``, if given) as RGB."""
    from explorer.data.shapes import picture

    return Image.fromarray(picture(seed, resolution, shape)[0])


def shape_box(seed: int, resolution: int = 128, shape: str | None = None) -> tuple[int, int, int, int]:
    """The shape's bounding box ``(x0, y0, x1, y1)`` in :func:`shape_image`'s pixels (x1, y1 exclusive)."""
    from explorer.data.shapes import picture

    return picture(seed, resolution, shape)[2]
