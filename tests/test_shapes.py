"""The generated shapes data set: deterministic, any size and channel count, masks and boxes that
locate the shape, and shapes that stand out from their background."""

from __future__ import annotations

import math

import pytest
import torch

from explorer.data.shapes import CLASSES, ShapesDataset, batches, generate


def test_same_seed_same_images_and_index_independent_of_batching():
    a = generate(6, resolution=24, seed=3)
    b = generate(6, resolution=24, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels) and torch.equal(a.masks, b.masks)
    dataset = ShapesDataset(resolution=24, seed=3)
    single = dataset[4]
    assert torch.equal(single.images[0], a.images[4])
    assert torch.equal(single.boxes[0], a.boxes[4])
    stream = batches(3, resolution=24, seed=3)
    first, second = next(stream), next(stream)
    assert torch.equal(torch.cat([first.images, second.images]), a.images)


def test_different_seeds_differ():
    assert not torch.equal(generate(4, 16, seed=0).images, generate(4, 16, seed=1).images)


@pytest.mark.parametrize(("resolution", "channels"), [(8, 1), (16, 3), (40, 5)])
def test_shapes_dtypes_and_ranges(resolution, channels):
    batch = generate(5, resolution=resolution, in_channels=channels, seed=7)
    assert batch.images.shape == (5, channels, resolution, resolution)
    assert batch.images.dtype == torch.float32
    assert float(batch.images.min()) >= 0.0 and float(batch.images.max()) <= 1.0
    assert batch.labels.dtype == torch.int64 and batch.labels.shape == (5,)
    assert batch.masks.shape == (5, resolution, resolution) and batch.masks.dtype == torch.bool
    assert batch.boxes.shape == (5, 4)
    assert len(batch) == 5 and all(name in CLASSES for name in batch.class_names())


def test_boxes_are_the_tight_boxes_of_the_masks():
    batch = generate(24, resolution=32, seed=11)
    for mask, box in zip(batch.masks, batch.boxes, strict=True):
        x0, y0, x1, y1 = (int(v) for v in box)
        assert mask.any(), "every image shows its shape"
        assert int(mask.sum()) == int(mask[y0:y1, x0:x1].sum())
        assert mask[y0, x0:x1].any() and mask[y1 - 1, x0:x1].any()
        assert mask[y0:y1, x0].any() and mask[y0:y1, x1 - 1].any()


def test_the_shape_stands_out_from_its_background():
    batch = generate(32, resolution=48, seed=5)
    for image, mask in zip(batch.images, batch.masks, strict=True):
        inside = image[:, mask].mean(dim=1)
        outside = image[:, ~mask].mean(dim=1)
        assert float((inside - outside).norm()) > 0.1


def test_circle_area_matches_its_scale():
    dataset = ShapesDataset(resolution=64, seed=2, classes=("circle",))
    batch = dataset.batch(range(8))
    for mask, scale in zip(batch.masks, batch.scales, strict=True):
        radius = float(scale) * 64 / 2
        assert float(mask.sum()) == pytest.approx(math.pi * radius**2, rel=0.08)


def test_every_class_appears_and_rotation_varies():
    batch = generate(96, resolution=16, seed=0)
    assert set(batch.labels.tolist()) == set(range(len(CLASSES)))
    assert float(batch.angles.std()) > 30
    fixed = generate(4, resolution=16, seed=0, rotate=False)
    assert torch.all(fixed.angles == 0)


def test_scale_range_is_respected():
    batch = generate(32, resolution=32, seed=9, scale=(0.3, 0.4))
    assert float(batch.scales.min()) >= 0.3 and float(batch.scales.max()) <= 0.4


@pytest.mark.parametrize(
    "options",
    [{"resolution": 2}, {"in_channels": 0}, {"scale": (0.5, 0.2)}, {"scale": (0.0, 0.5)}, {"classes": ("blob",)}],
)
def test_bad_arguments_raise_value_error(options):
    with pytest.raises(ValueError):
        ShapesDataset(**options)
