"""Sample images that ship in assets/samples (CC0 / public domain, see its LICENSE.md)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from explorer.images import decode_image

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "assets" / "samples"
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
        raise ValueError(f"unknown sample '{name}'; allowed: {', '.join(SAMPLES)}")
    return decode_image((SAMPLE_DIR / SAMPLES[name]).read_bytes())
