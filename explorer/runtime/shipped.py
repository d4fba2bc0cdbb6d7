"""The shipped models: small nets trained on the shapes data set, in ``assets/models/`` with their cards.

Each model is two files made by ``python -m explorer train`` (the card's ``command`` reproduces it):
``<name>.pt``, a state dict, and ``<name>.json``, its card (query, shapes version, steps, seed,
device, wall time, held-out accuracy and Grad-CAM pointing game, torch version, sha256, licence).
They let Saliency and Deformable show a trained model at first contact, offline, without the
ImageNet download: :func:`shipped_for` picks the one that matches a config's family, and
:func:`load_shipped` loads it after checking the file's sha256 against the card.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from explorer.config import parse_query
from explorer.data.shapes import INPUT_MEAN, INPUT_STD
from explorer.knobs import ModelConfig, query_to_dict
from explorer.runtime.models import instantiate
from explorer.runtime.weights import ExplainableModel, WeightsError

__all__ = [
    "GOAL_ACCURACY",
    "GOAL_POINTING",
    "MODELS_DIR",
    "ShippedModel",
    "card_goals",
    "load_shipped",
    "same_architecture",
    "shipped_deformable",
    "shipped_for",
    "shipped_models",
]

#: What a shipped model should reach on held-out shapes, top-1 accuracy and pointing game: a model
#: that explains a picture must first read it right, and its map must point at the shape.
GOAL_ACCURACY = 0.95
GOAL_POINTING = 0.90


def card_goals(accuracy: float, pointing: float) -> dict[str, Any]:
    """The card's ``goals``: whether the measured held-out figures reach the shipped-model goals,
    with a note naming the measured figures when one is missed (written by ``train``, not by hand)."""
    goals: dict[str, Any] = {
        f"accuracy_at_least_{round(GOAL_ACCURACY * 100)}": accuracy >= GOAL_ACCURACY,
        f"pointing_game_at_least_{round(GOAL_POINTING * 100)}": pointing >= GOAL_POINTING,
    }
    if not all(goals.values()):
        goals["note"] = (
            f"goals not all reached: measured {accuracy:.1%} accuracy (goal {GOAL_ACCURACY:.0%}), "
            f"{pointing:.1%} pointing game (goal {GOAL_POINTING:.0%})"
        )
    return goals


#: Where the shipped models live (the repository's ``assets/models``).
MODELS_DIR = Path(__file__).resolve().parents[2] / "assets" / "models"


@dataclass(frozen=True)
class ShippedModel:
    """One shipped model: its card and where its weights are."""

    name: str
    card: dict[str, Any]
    weights_path: Path

    @property
    def query(self) -> str:
        return str(self.card["query"])

    @property
    def family(self) -> str:
        return str(self.card["family"])

    @property
    def config(self) -> ModelConfig:
        return parse_query(self.query)

    @property
    def trained_query(self) -> str:
        """The query as given to ``train`` (before the shapes' classes and side were set), canonical."""
        return parse_query(str(self.card.get("trained_query", self.query))).query

    @property
    def deformable(self) -> bool:
        return query_to_dict(self.query).get("deform", "off") not in ("off", "none")

    @property
    def modulated(self) -> bool:
        return query_to_dict(self.query).get("modulated", "off") == "on"

    @property
    def total_steps(self) -> int:
        """Steps of the whole recipe: a model refined with ``train --from`` counts its start's too."""
        return int(self.card.get("total_steps", self.card["steps"]))

    @property
    def accuracy(self) -> float:
        return float(self.card["held_out"]["accuracy"])

    @property
    def pointing(self) -> float:
        return float(self.card["held_out"]["pointing_game"])

    def describe(self) -> str:
        """Whose weights, in words (shown next to every map)."""
        held = self.card["held_out"]
        return (
            f"shipped model '{self.name}' (assets/models: trained by this project on generated shapes "
            f"v{self.card['shapes_version']}, {self.total_steps} steps on {self.card['device']}; "
            f"{held['accuracy']:.1%} accuracy, {held['pointing_game']:.1%} pointing game on "
            f"{held['n']:,} held-out images)"
        )

    def summary(self) -> dict[str, Any]:
        """What ``python -m explorer models --json`` lists: the name, the query and the card's fields."""
        return {"name": self.name, "query": self.query, "weights": str(self.weights_path), **self.card}


def shipped_models(directory: Path = MODELS_DIR) -> list[ShippedModel]:
    """Every ``<name>.json`` card in ``directory`` that has its ``<name>.pt`` beside it, by name."""
    models = []
    for card_path in sorted(directory.glob("*.json")):
        weights = card_path.with_suffix(".pt")
        if weights.is_file():
            card = json.loads(card_path.read_text())
            models.append(ShippedModel(card_path.stem, card, weights))
    return models


def shipped_for(config: ModelConfig, directory: Path = MODELS_DIR) -> ShippedModel | None:
    """The shipped model for ``config``: the one with its exact query if there is one, else one of its
    family, preferring the same deformable / modulated choice (a plain ResNet for a plain ResNet)."""
    models = [m for m in shipped_models(directory) if m.family == config.family]
    if not models:
        return None
    wanted = query_to_dict(config.query)
    deform = wanted.get("deform", "off") not in ("off", "none")
    modulated = wanted.get("modulated", "off") == "on"
    for model in models:
        if config.query in (model.query, model.trained_query):
            return model
    return min(models, key=lambda m: (m.deformable != deform, m.modulated != modulated, m.name))


def shipped_deformable(modulated: bool = False, directory: Path = MODELS_DIR) -> ShippedModel | None:
    """The shipped model with deformable stages (modulated or not), for the Deformable page."""
    models = [m for m in shipped_models(directory) if m.deformable]
    if not models:
        return None
    return min(models, key=lambda m: (m.modulated != modulated, m.name))


def same_architecture(a: ModelConfig, b: ModelConfig) -> bool:
    """Whether two configs build the same network (same parameter and buffer names and shapes, built
    on the meta device): ``width=16`` and the CIFAR stem's automatic 16 are one architecture."""
    from explorer.families import build

    if a.family != b.family:
        return False

    def shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in build(config, device="meta").module.state_dict().items()}

    return shapes(a) == shapes(b)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_shipped(model: ShippedModel | str, device: torch.device | str = "cpu") -> ExplainableModel:
    """Build the shipped model's architecture and load its weights (strict), after checking the
    file's sha256 against the card (WeightsError when it differs: a damaged or replaced file)."""
    if isinstance(model, str):
        found = {m.name: m for m in shipped_models()}
        if model not in found:
            raise WeightsError(f"no shipped model '{model}'; shipped: {', '.join(found) or 'none'}")
        model = found[model]
    digest = _sha256(model.weights_path)
    if digest != model.card["sha256"]:
        raise WeightsError(
            f"{model.weights_path.name}: sha256 {digest[:12]}... differs from its card's {model.card['sha256'][:12]}..."
        )
    built = instantiate(model.config, device)
    state = torch.load(model.weights_path, map_location="cpu", weights_only=True)
    built.module.load_state_dict(state, strict=True)
    built.module.eval()
    return ExplainableModel(
        built,
        model.describe(),
        tuple(model.card["classes"]),
        accuracy=model.accuracy,
        mean=(INPUT_MEAN,),
        std=(INPUT_STD,),
    )
