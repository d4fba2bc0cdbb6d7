"""The one image decoder: every mode to RGB, hostile and broken files to one clear ImageError."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.data.images import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ImageError,
    decode_image,
    display_image,
    image_digest,
    preprocess,
)


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("L", "PNG"),
        ("LA", "PNG"),
        ("P", "PNG"),
        ("RGBA", "PNG"),
        ("CMYK", "JPEG"),
        ("I;16", "PNG"),
        ("I", "TIFF"),
        ("F", "TIFF"),
        ("RGB", "WEBP"),
        ("RGB", "BMP"),
        ("1", "PNG"),
    ],
)
def test_every_mode_becomes_rgb(mode: str, fmt: str):
    image = Image.new(mode, (40, 30))
    decoded = decode_image(encode(image, fmt))
    assert decoded.mode == "RGB"
    assert decoded.size == (40, 30)


def test_sixteen_bit_range_is_rescaled_not_clipped():
    values = np.linspace(0, 65535, 64 * 8, dtype=np.uint16).reshape(8, 64)
    image = Image.new("I;16", (64, 8))
    image.frombytes(values.astype("<u2").tobytes())
    decoded = np.asarray(decode_image(encode(image)))
    assert decoded[..., 0].min() == 0
    assert decoded[..., 0].max() == 255


def test_transparent_pixels_become_white():
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert np.asarray(decode_image(encode(image)))[0, 0].tolist() == [255, 255, 255]


def test_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    pixel = np.asarray(decode_image(buffer.getvalue()))[0, 0]
    assert pixel[0] > 200 and pixel[2] < 50


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    assert decode_image(encode(image, "JPEG", exif=exif)).size == (20, 40)


def test_decompression_bomb_is_refused_from_the_header():
    data = encode(Image.new("1", (12000, 12000)))  # 144 megapixels, a few kB on disk
    with pytest.raises(ImageError, match="larger than the limit of 80 megapixels"):
        decode_image(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"not an image at all", "not an image format we can read"),
        (encode(Image.new("RGB", (64, 64)), "PNG")[:60], "truncated or corrupt"),
        (encode(Image.new("RGB", (64, 64)), "JPEG")[:200], "truncated or corrupt"),
    ],
)
def test_unreadable_files_get_one_clear_message(data: bytes, message: str):
    with pytest.raises(ImageError, match=message):
        decode_image(data)


def test_oversized_file_is_refused_before_decoding():
    with pytest.raises(ImageError, match="the limit is 1 MB"):
        decode_image(b"\0" * 2_000_000, max_bytes=1_000_000)


def test_square_image_at_model_resolution_enters_unchanged_apart_from_normalisation():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    tensor = preprocess(Image.fromarray(pixels), 32)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    restored = (tensor[0] * std + mean) * 255
    assert torch.allclose(restored, torch.from_numpy(pixels).permute(2, 0, 1).float(), atol=1e-3)


def test_wide_image_is_centre_cropped_to_a_square():
    pixels = np.zeros((20, 60, 3), dtype=np.uint8)
    pixels[:, 20:40] = 255  # a white centre third
    shown = display_image(Image.fromarray(pixels), 20)
    assert shown.shape == (20, 20, 3)
    assert shown.min() > 200
    assert preprocess(Image.fromarray(pixels), 20, in_channels=1).shape == (1, 1, 20, 20)


def test_image_digest_follows_the_pixels():
    image = Image.new("RGB", (8, 6), (10, 20, 30))
    same = Image.new("RGB", (8, 6), (10, 20, 30))
    assert image_digest(image) == image_digest(same) and len(image_digest(image)) == 16
    same.putpixel((7, 5), (10, 20, 31))
    assert image_digest(same) != image_digest(image)
    assert image_digest(image.convert("RGBA")) != image_digest(image)  # mode and size are part of it
    assert image_digest(Image.new("RGB", (6, 8), (10, 20, 30))) != image_digest(image)


def test_an_upload_is_kept_as_the_square_the_models_see_at_most_kept_side():
    from explorer.data.images import KEPT_SIDE, kept_square

    rng = np.random.default_rng(3)
    photo = Image.fromarray(rng.integers(0, 256, (1500, 2000, 3), dtype=np.uint8))  # 9 MB of RGB, 4:3
    kept = kept_square(photo)
    assert kept.size == (KEPT_SIDE, KEPT_SIDE) and kept.mode == "RGB"  # 3 MB, whatever the photo's size
    small = Image.fromarray(rng.integers(0, 256, (600, 1200, 3), dtype=np.uint8))
    assert kept_square(small) is small  # no more pixels than the square: kept as it is
    panorama = Image.new("RGB", (KEPT_SIDE * 4, KEPT_SIDE // 2))
    assert kept_square(panorama).size == (KEPT_SIDE // 2, KEPT_SIDE // 2)  # its centred square, no larger
    # A large photo's model input moves by little more than one grey level of the 0..255 picture.
    difference = (preprocess(kept, 224) - preprocess(photo, 224)).abs() * torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert float(difference.mean()) < 2 / 255
