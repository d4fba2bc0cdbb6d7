"""A procedurally generated image data set: one coloured shape on a textured background.

Nothing is downloaded: every image is drawn on the fly from ``(version, seed, index)``, so image
``i`` of a seed is the same whichever batch it is drawn in, on any machine (numpy's ``default_rng``
streams are stable across platforms). Used for the short training runs of the Signal Flow page, for
Grad-CAM (each image's shape mask and bounding box are returned, so "the saliency lands on the
shape" is testable) and for deformable convs (shapes at random scale and rotation).

Conventions:
    images  ``(N, C, H, W)`` float32 in [0, 1]; ``C`` is any number of channels (1: grey, 3: RGB;
            colours are random points of [0, 1]^C, so other ``C`` work too).
    labels  ``(N,)`` int64, an index into :data:`CLASSES` (or into the ``classes`` argument).
    masks   ``(N, H, W)`` bool, True on the shape's pixels (at least half the pixel covered).
    boxes   ``(N, 4)`` float32 ``(x0, y0, x1, y1)`` in pixels, the tight box of the mask, with
            ``x1``/``y1`` exclusive (``masks[n, y0:y1, x0:x1]`` holds every True of image n).
    scales  ``(N,)`` float32: the shape's circumscribed radius as a fraction of half the side.
    angles  ``(N,)`` float32: rotation in degrees (counter-clockwise on screen).

Shapes are drawn with 2x2 supersampling (anti-aliased edges), the background is a blend of two
colours through a random texture (stripes, checks or smooth noise) plus a little pixel noise, and
the shape's colour is kept at a clear distance from both background colours.

Versions (``version=``; :data:`DEFAULT_VERSION` is what every call without one gets):
    1  :data:`CLASSES_V1`, 32 px, scale 0.35-0.8. Two pairs are hard to tell apart at 32 px because
       one is nearly a rotation of the other: square/diamond (a rhombus) and circle/hexagon.
       Image ``i`` draws from ``default_rng([seed, i])``; kept (the tests compare it with the arrays the
       unversioned generator drew, to float32 rounding: sin, cos and edges round per processor).
    2  :data:`CLASSES_V2`, 64 px, scale 0.3-0.9: circle, square, triangle, star, cross, ring,
       semicircle, L-shape. No class is a rotation (or a near-rotation) of another, nor part of
       another (an arrow, tried first, was read as a triangle: its head is one). The tests measure
       it: the best overlap (IoU) of two classes, area-matched, over all rotations, is 0.84
       (circle/square) where version 1's circle/hexagon reach 0.93. Same backgrounds, colours and
       random position, scale and rotation as version 1. 64 px by default (64 px or more unless 32 px
       is shown to read as well, which was not measured): Grad-CAM of a
       CIFAR-style net has a quarter of the input side, 16x16 cells at 64 px against 8x8 at 32 px.
       Image ``i`` draws from ``default_rng([seed, i, 2])``.
:data:`SHAPES_VERSION` is the newest version; :func:`spec` gives a version's classes, resolution
and scale range.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from explorer.errors import InputError

__all__ = [
    "CLASSES",
    "CLASSES_V1",
    "CLASSES_V2",
    "DEFAULT_RESOLUTION",
    "DEFAULT_VERSION",
    "INPUT_MEAN",
    "INPUT_STD",
    "SHAPES_VERSION",
    "VERSIONS",
    "ShapesBatch",
    "ShapesDataset",
    "ShapesSpec",
    "batches",
    "classes_for",
    "generate",
    "picture",
    "spec",
    "standardise",
]

#: How every model trained or probed on these images sees them: ``(images - INPUT_MEAN) / INPUT_STD``
#: (signal flow, training, Grad-CAM and offsets of the shipped models, and their cards' ``mean``/``std``).
INPUT_MEAN, INPUT_STD = 0.5, 0.25


def standardise(images: Tensor) -> Tensor:
    """``images`` (pixels in [0, 1]) as every model trained or probed on shapes sees them:
    ``(images - INPUT_MEAN) / INPUT_STD``, the one place that says so."""
    return (images - INPUT_MEAN) / INPUT_STD


#: Version 1's shape classes, in label order.
CLASSES_V1: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "hexagon", "ring", "diamond")
#: Version 2's shape classes, in label order: none is a rotation of another.
CLASSES_V2: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring", "semicircle", "L-shape")
#: The newest generator version.
SHAPES_VERSION = 2
#: The version every call without ``version=`` gets: the app, the CLI and every trainer (the one place
#: that decides it; version 1 stays available as ``version=1``).
DEFAULT_VERSION = 2
TEXTURES = ("stripes", "checks", "noise")
SUPERSAMPLE = 2
MIN_COLOUR_DISTANCE = 0.35


@dataclass(frozen=True)
class ShapesBatch:
    """A batch of generated images with their labels and where the shape is (see module docs)."""

    images: Tensor
    labels: Tensor
    masks: Tensor
    boxes: Tensor
    scales: Tensor
    angles: Tensor
    classes: tuple[str, ...]
    version: int = 1

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def class_names(self) -> list[str]:
        return [self.classes[int(i)] for i in self.labels]


# -- shape outlines as polygons in unit coordinates (circumscribed radius 1) ------------------------
def _regular(n: int, phase: float = 0.0) -> np.ndarray:
    t = phase + 2 * math.pi * np.arange(n) / n
    return np.stack([np.cos(t), np.sin(t)], axis=1)


def _star(points: int = 5, inner: float = 0.45) -> np.ndarray:
    t = math.pi / 2 + math.pi * np.arange(2 * points) / points
    r = np.where(np.arange(2 * points) % 2 == 0, 1.0, inner)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def _cross(arm: float = 0.33) -> np.ndarray:
    a = arm
    b = math.sqrt(1 - a * a)  # the arms' outer corners lie on the unit circle
    return np.array(
        [(a, b), (-a, b), (-a, a), (-b, a), (-b, -a), (-a, -a), (-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a)]
    )


POLYGONS: dict[str, np.ndarray] = {
    "square": _regular(4, math.pi / 4),
    "triangle": _regular(3, math.pi / 2),
    "star": _star(),
    "cross": _cross(),
    "hexagon": _regular(6),
    "diamond": np.array([(0.0, 1.0), (-0.6, 0.0), (0.0, -1.0), (0.6, 0.0)]),
    # The half disc above the x axis (its flat side through the centre), and an L of arms 0.45 wide.
    "semicircle": np.stack([np.cos(np.linspace(0, math.pi, 33)), np.sin(np.linspace(0, math.pi, 33))], axis=1),
    "L-shape": np.array([(-0.7, 0.7), (-0.25, 0.7), (-0.25, -0.25), (0.7, -0.25), (0.7, -0.7), (-0.7, -0.7)]),
}


def _inside(name: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Which points (u, v) of the shape's own frame (radius 1, y up) lie inside the shape."""
    if name == "circle":
        return u * u + v * v <= 1.0
    if name == "ring":
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= 0.55**2)
    polygon = POLYGONS[name]
    inside = np.zeros(u.shape, dtype=bool)
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):  # even-odd ray casting
        crosses = (ay > v) != (by > v)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = ax + (v - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (u < x_at)
    return inside


# -- backgrounds -------------------------------------------------------------------------------------
def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A (size, size) pattern in [0, 1]."""
    kind = TEXTURES[rng.integers(len(TEXTURES))]
    y, x = np.mgrid[0:size, 0:size] / size
    if kind == "stripes":
        angle = rng.uniform(0, math.pi)
        frequency = rng.uniform(2, 8)
        phase = rng.uniform(0, 2 * math.pi)
        return 0.5 + 0.5 * np.sin(2 * math.pi * frequency * (x * math.cos(angle) + y * math.sin(angle)) + phase)
    if kind == "checks":
        cells = int(rng.integers(2, 9))
        return ((np.floor(x * cells) + np.floor(y * cells)) % 2).astype(np.float64)
    grid = int(rng.integers(3, 7))  # smooth noise: bilinear upsampling of a coarse random grid
    coarse = rng.uniform(0, 1, (grid + 1, grid + 1))
    gx, gy = x * grid, y * grid
    ix, iy = np.minimum(gx.astype(int), grid - 1), np.minimum(gy.astype(int), grid - 1)
    fx, fy = gx - ix, gy - iy
    top = coarse[iy, ix] * (1 - fx) + coarse[iy, ix + 1] * fx
    bottom = coarse[iy + 1, ix] * (1 - fx) + coarse[iy + 1, ix + 1] * fx
    return top * (1 - fy) + bottom * fy


def _distinct_colour(rng: np.random.Generator, channels: int, avoid: Sequence[np.ndarray]) -> np.ndarray:
    scale = math.sqrt(channels)  # distances relative to the diagonal of [0, 1]^C
    colour = rng.uniform(0, 1, channels)
    for _ in range(64):
        if all(np.linalg.norm(colour - other) / scale >= MIN_COLOUR_DISTANCE for other in avoid):
            return colour
        colour = rng.uniform(0, 1, channels)
    mean = np.mean(avoid, axis=0)  # give up sampling: the colour opposite the background's mean
    return np.where(mean > 0.5, 0.0, 1.0)


def _render(
    rng: np.random.Generator,
    label: int,
    classes: Sequence[str],
    resolution: int,
    channels: int,
    scale_range: tuple[float, float],
    rotate: bool,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """One image ``(C, H, W)`` and its mask ``(H, W)``, plus the scale and angle used."""
    background = [rng.uniform(0, 1, channels), rng.uniform(0, 1, channels)]
    # Keep the two background colours moderately close so the shape stays the thing to see.
    background[1] = background[0] + 0.5 * (background[1] - background[0])
    texture = _texture(rng, resolution)
    image = background[0][:, None, None] + (background[1] - background[0])[:, None, None] * texture[None]

    scale = float(rng.uniform(*scale_range))
    angle = float(rng.uniform(0, 360)) if rotate else 0.0
    radius = scale * resolution / 2
    margin = min(radius + 0.5, resolution / 2)
    cx, cy = rng.uniform(margin, resolution - margin, 2)
    colour = _distinct_colour(rng, channels, background)

    size = resolution * SUPERSAMPLE
    offsets = (np.arange(size) + 0.5) / SUPERSAMPLE
    py, px = np.meshgrid(offsets, offsets, indexing="ij")
    theta = math.radians(angle)
    dx, dy = (px - cx) / radius, (cy - py) / radius  # y up, so rotations read counter-clockwise
    u = dx * math.cos(theta) + dy * math.sin(theta)
    v = -dx * math.sin(theta) + dy * math.cos(theta)
    fine = _inside(classes[label], u, v)
    coverage = fine.reshape(resolution, SUPERSAMPLE, resolution, SUPERSAMPLE).mean(axis=(1, 3))

    image = image * (1 - coverage[None]) + colour[:, None, None] * coverage[None]
    image = image + rng.normal(0, 0.02, image.shape)
    return np.clip(image, 0.0, 1.0), coverage >= 0.5, scale, angle


def _render_v2(
    rng: np.random.Generator,
    label: int,
    classes: Sequence[str],
    resolution: int,
    channels: int,
    scale_range: tuple[float, float],
    rotate: bool,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Version 2 of :func:`_render` (same outputs): the supersampled inside test runs only over the
    pixels of the shape's circumscribed square, which makes 64 px images about as cheap as 32 px ones."""
    background = [rng.uniform(0, 1, channels), rng.uniform(0, 1, channels)]
    background[1] = background[0] + 0.5 * (background[1] - background[0])
    texture = _texture(rng, resolution)
    image = background[0][:, None, None] + (background[1] - background[0])[:, None, None] * texture[None]

    scale = float(rng.uniform(*scale_range))
    angle = float(rng.uniform(0, 360)) if rotate else 0.0
    radius = scale * resolution / 2
    margin = min(radius + 0.5, resolution / 2)
    cx, cy = rng.uniform(margin, resolution - margin, 2)
    colour = _distinct_colour(rng, channels, background)

    # Every shape lies inside its circumscribed circle, so pixels outside that square stay uncovered.
    x0, x1 = max(0, math.floor(cx - radius) - 1), min(resolution, math.ceil(cx + radius) + 1)
    y0, y1 = max(0, math.floor(cy - radius) - 1), min(resolution, math.ceil(cy + radius) + 1)
    fine_x = (np.arange(x0 * SUPERSAMPLE, x1 * SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    fine_y = (np.arange(y0 * SUPERSAMPLE, y1 * SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    py, px = np.meshgrid(fine_y, fine_x, indexing="ij")
    theta = math.radians(angle)
    dx, dy = (px - cx) / radius, (cy - py) / radius  # y up, so rotations read counter-clockwise
    u = dx * math.cos(theta) + dy * math.sin(theta)
    v = -dx * math.sin(theta) + dy * math.cos(theta)
    fine = _inside(classes[label], u, v)
    coverage = np.zeros((resolution, resolution))
    coverage[y0:y1, x0:x1] = fine.reshape(y1 - y0, SUPERSAMPLE, x1 - x0, SUPERSAMPLE).mean(axis=(1, 3))

    image = image * (1 - coverage[None]) + colour[:, None, None] * coverage[None]
    image = image + rng.normal(0, 0.02, image.shape)
    return np.clip(image, 0.0, 1.0), coverage >= 0.5, scale, angle


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


@dataclass(frozen=True, kw_only=True)
class ShapesSpec:
    """What a generator version draws by default: its classes (label order), side and scale range."""

    version: int
    classes: tuple[str, ...]
    resolution: int
    scale: tuple[float, float]


_SPECS: dict[int, ShapesSpec] = {
    1: ShapesSpec(version=1, classes=CLASSES_V1, resolution=32, scale=(0.35, 0.8)),
    2: ShapesSpec(version=2, classes=CLASSES_V2, resolution=64, scale=(0.3, 0.9)),
}
_RENDERERS = {1: _render, 2: _render_v2}
#: The generator versions, oldest first.
VERSIONS: tuple[int, ...] = tuple(_SPECS)
#: Each version's default image side in pixels.
DEFAULT_RESOLUTION: dict[int, int] = {v: s.resolution for v, s in _SPECS.items()}
#: The default version's classes, in label order (what a model trained without ``version=`` predicts).
CLASSES: tuple[str, ...] = _SPECS[DEFAULT_VERSION].classes


def spec(version: int = DEFAULT_VERSION) -> ShapesSpec:
    """The defaults of generator ``version`` (ValueError for an unknown one)."""
    if version not in _SPECS:
        raise InputError(f"shapes version {version!r}; allowed: {', '.join(map(str, VERSIONS))}")
    return _SPECS[version]


def classes_for(version: int = DEFAULT_VERSION) -> tuple[str, ...]:
    """The shape classes of generator ``version``, in label order."""
    return spec(version).classes


def _seed_sequence(version: int, seed: int, index: int) -> list[int]:
    # Version 1's stream is [seed, index] (kept for bit-identical images); later versions append theirs.
    return [seed, index] if version == 1 else [seed, index, version]


@dataclass(frozen=True)
class ShapesDataset:
    """The endless, seeded data set: ``dataset[i]`` and ``dataset.batch(indices)`` are deterministic.

    ``version`` picks the generator (see the module docs); ``resolution``, ``scale`` and ``classes``
    left as None take that version's defaults (:func:`spec`), so after construction they always hold
    the values used. ``scale`` is the range of the shape's radius as a fraction of half the image
    side; ``rotate`` draws a uniform random rotation; ``classes`` picks and orders the shape classes
    (labels index it), a subset of the version's classes.
    """

    resolution: int | None = None
    in_channels: int = 3
    seed: int = 0
    scale: tuple[float, float] | None = None
    rotate: bool = True
    classes: tuple[str, ...] | None = None
    version: int = DEFAULT_VERSION

    def __post_init__(self) -> None:
        defaults = spec(self.version)
        # Frozen, so the version's defaults are filled in through object.__setattr__ (as dataclasses do).
        for name in ("resolution", "scale", "classes"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, getattr(defaults, name))
        assert self.resolution is not None and self.scale is not None and self.classes is not None
        if self.resolution < 4:
            raise InputError(f"resolution={self.resolution} is too small for shapes; allowed: 4 or more")
        if self.in_channels < 1:
            raise InputError(f"in_channels={self.in_channels}; allowed: 1 or more")
        low, high = self.scale
        if not 0 < low <= high <= 1:
            raise InputError(f"scale={self.scale}; allowed: 0 < low <= high <= 1")
        unknown = [c for c in self.classes if c not in defaults.classes]
        if unknown or not self.classes:
            raise InputError(
                f"unknown shape classes {unknown} for shapes version {self.version}; "
                f"allowed: {', '.join(defaults.classes)}"
            )
        object.__setattr__(self, "classes", tuple(self.classes))

    def batch(self, indices: Sequence[int] | range) -> ShapesBatch:
        assert self.resolution is not None and self.scale is not None and self.classes is not None
        render = _RENDERERS[self.version]
        images, labels, masks, boxes, scales, angles = [], [], [], [], [], []
        for index in indices:
            rng = np.random.default_rng(_seed_sequence(self.version, self.seed, int(index)))
            label = int(rng.integers(len(self.classes)))
            image, mask, scale, angle = render(
                rng, label, self.classes, self.resolution, self.in_channels, self.scale, self.rotate
            )
            images.append(image)
            labels.append(label)
            masks.append(mask)
            boxes.append(_box(mask))
            scales.append(scale)
            angles.append(angle)
        n, r = len(labels), self.resolution
        return ShapesBatch(
            images=torch.from_numpy(np.asarray(images, dtype=np.float32).reshape(n, self.in_channels, r, r)),
            labels=torch.tensor(labels, dtype=torch.int64),
            masks=torch.from_numpy(np.asarray(masks, dtype=bool).reshape(n, r, r)),
            boxes=torch.tensor(boxes, dtype=torch.float32).reshape(n, 4),
            scales=torch.tensor(scales, dtype=torch.float32),
            angles=torch.tensor(angles, dtype=torch.float32),
            classes=self.classes,
            version=self.version,
        )

    def __getitem__(self, index: int) -> ShapesBatch:
        return self.batch([index])

    def batches(self, batch_size: int, start: int = 0) -> Iterator[ShapesBatch]:
        """Consecutive batches ``[start, start + batch_size)``, ``[start + batch_size, ...)``, ... forever."""
        if batch_size < 1:
            raise InputError(f"batch size {batch_size}; allowed: 1 or more")
        first = start
        while True:
            yield self.batch(range(first, first + batch_size))
            first += batch_size


def generate(n: int, resolution: int | None = None, in_channels: int = 3, seed: int = 0, **options: Any) -> ShapesBatch:
    """``n`` images (indices 0..n-1) of the data set with this seed; ``options`` (``version``,
    ``scale``, ``rotate``, ``classes``) as :class:`ShapesDataset`; resolution None: the version's."""
    return ShapesDataset(resolution=resolution, in_channels=in_channels, seed=seed, **options).batch(range(n))


def batches(
    batch_size: int, resolution: int | None = None, in_channels: int = 3, seed: int = 0, **options: Any
) -> Iterator[ShapesBatch]:
    """Endless consecutive batches of the data set with this seed."""
    return ShapesDataset(resolution=resolution, in_channels=in_channels, seed=seed, **options).batches(batch_size)


def picture(
    seed: int, resolution: int = 128, shape: str | None = None, version: int = DEFAULT_VERSION
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Image 0 of the data set with ``seed`` (only ``shape`` drawn, if given) for showing a person:
    ``(R, R, 3)`` uint8 RGB pixels, its ``(R, R)`` bool mask and its box ``(x0, y0, x1, y1)``."""
    options: dict[str, Any] = {"classes": (shape,)} if shape else {}
    batch = generate(1, resolution=resolution, in_channels=3, seed=seed, version=version, **options)
    pixels = (batch.images[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    x0, y0, x1, y1 = (int(v) for v in batch.boxes[0].tolist())
    return pixels, batch.masks[0].numpy(), (x0, y0, x1, y1)
