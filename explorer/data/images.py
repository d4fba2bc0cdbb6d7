"""Images in: one hardened decoder, and the preprocessing every model on the Saliency page sees.

``decode_image`` is the only place an uploaded file is opened. It refuses decompression bombs
(a pixel limit checked from the header, before decoding), applies the EXIF orientation, takes the
first frame of animations, and converts every mode (L, LA, P, PA, RGBA, CMYK, I;16, I, F, ...) to
RGB; anything Pillow cannot read becomes one :class:`ImageError` with a plain message.
"""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from explorer.errors import InputError

#: Largest image accepted, in pixels (a 64-megapixel photo passes; bombs do not).
MAX_PIXELS = 80_000_000
#: Largest file accepted, in bytes.
MAX_BYTES = 50_000_000
#: The side, in pixels, of the square an uploaded picture is kept at: above every preset's input (600 px,
#: EfficientNet-B7), so what the models see barely changes; 3 MB of RGB however large the photo.
KEPT_SIDE = 1024
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageError(InputError):
    """The file is not an image we can use; the message says why in plain words."""


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_BYTES) -> Image.Image:
    """Bytes of a PNG/JPEG/WebP/GIF/BMP/TIFF/... file -> an RGB ``PIL.Image``."""
    if not data:
        raise ImageError("the file is empty")
    if len(data) > max_bytes:
        raise ImageError(f"the file is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    f"the image is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), "
                    f"larger than the limit of {max_pixels / 1e6:.0f} megapixels"
                )
            if getattr(image, "is_animated", False):
                image.seek(0)
            image.load()
            return to_rgb(ImageOps.exif_transpose(image) or image)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
        raise ImageError(f"the image is larger than the limit of {limit / 1e6:.0f} megapixels") from None
    except UnidentifiedImageError:
        raise ImageError("this file is not an image format we can read (try PNG, JPEG, WebP or GIF)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageError(f"the image could not be read: it may be truncated or corrupt ({error})") from None


def image_digest(image: Image.Image) -> str:
    """A short fingerprint of an image's pixels (mode, size and bytes): state that belongs to one
    picture, such as the class a map explains, can be keyed by it and start afresh with the next."""
    digest = hashlib.blake2b(f"{image.mode}{image.size}".encode(), digest_size=8)
    digest.update(image.tobytes())
    return digest.hexdigest()


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparency is composited on white, high bit depths rescaled."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        scaled = (np.nan_to_num(values, nan=low) - low) / ((high - low) or 1.0) * 255.0
        return Image.fromarray(np.clip(scaled, 0, 255).astype(np.uint8), "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def kept_square(image: Image.Image, side: int = KEPT_SIDE) -> Image.Image:
    """What a page keeps of an uploaded picture: the picture itself when it holds no more pixels than
    a ``side``-pixel square, else the centred square that :func:`preprocess` and :func:`display_image`
    crop, ``side`` pixels across (3 MB; a 16 MB photo kept whole cost its session 46 MB). A small picture
    reaches the models exactly as before; a large one's input moves by less than a grey level."""
    image = to_rgb(image)
    width, height = image.size
    if width * height <= side * side:
        return image
    square = min(width, height, side)
    return ImageOps.fit(image, (square, square), method=Image.Resampling.BILINEAR)


def preprocess(
    image: Image.Image,
    resolution: int,
    in_channels: int = 3,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> torch.Tensor:
    """RGB image -> ``(1, in_channels, resolution, resolution)`` float tensor.

    Resize so the shorter side is ``resolution``, then centre-crop a square: a square image of
    exactly ``resolution`` pixels enters unchanged apart from normalisation, by default ImageNet's
    (mean 0.485/0.456/0.406, std 0.229/0.224/0.225); one value of ``mean``/``std`` serves every
    channel. One input channel means the image's luminance, normalised with the mean statistics.
    """
    image = to_rgb(image)
    if image.size != (resolution, resolution):
        image = ImageOps.fit(image, (resolution, resolution), method=Image.Resampling.BILINEAR)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1).expand(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1).expand(3, 1, 1)
    if in_channels == 3:
        tensor = (pixels - mean_t) / std_t
    else:
        grey = (0.299 * pixels[0] + 0.587 * pixels[1] + 0.114 * pixels[2]).unsqueeze(0)
        tensor = ((grey - mean_t.mean()) / std_t.mean()).expand(in_channels, -1, -1)
    return tensor.unsqueeze(0).contiguous()


def display_image(image: Image.Image, resolution: int) -> np.ndarray:
    """The square crop the model sees, as ``(resolution, resolution, 3)`` uint8 for overlays."""
    image = to_rgb(image)
    if image.size != (resolution, resolution):
        image = ImageOps.fit(image, (resolution, resolution), method=Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)
