"""The families: every family's config class and presets (no torch), and :func:`build`.

A new family is two modules: ``families/<name>.py``, its config dataclass (knobs, scaling) and its
presets (``register_preset``), importing no torch; and ``families/nets/<name>.py``, its torch modules
and builder (``@register_builder``), imported by :func:`build` on first use. Add the config class to
:data:`FAMILIES` below. The family modules import :mod:`explorer.knobs`, never the parser
(:mod:`explorer.config`) that imports them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from explorer.families.alexnet import AlexNetConfig
from explorer.families.base import BUILDERS, BuiltModel, Stage
from explorer.families.blocks import BlocksConfig
from explorer.families.densenet import DenseNetConfig
from explorer.families.efficientnet import EfficientNetConfig
from explorer.families.googlenet import GoogLeNetConfig
from explorer.families.inception import InceptionV3Config
from explorer.families.mobilenet import MobileNetV1Config, MobileNetV2Config, MobileNetV3Config
from explorer.families.plain import PlainConfig
from explorer.families.resnet import ResNetConfig
from explorer.families.vgg import VGGConfig
from explorer.knobs import ModelConfig, registered_presets

if TYPE_CHECKING:
    import torch

__all__ = ["FAMILIES", "PRESETS", "BuiltModel", "Stage", "build"]


def by_family(*config_types: type[ModelConfig]) -> dict[str, type[ModelConfig]]:
    """``config_types`` by their family name, in order; a name taken twice raises ValueError."""
    families: dict[str, type[ModelConfig]] = {}
    for config_type in config_types:
        if config_type.family in families:
            raise ValueError(
                f"family '{config_type.family}' is taken twice: {families[config_type.family].__name__} "
                f"and {config_type.__name__}"
            )
        families[config_type.family] = config_type
    return families


#: family name -> config class, in the order families are offered (the Build page's selector).
FAMILIES: dict[str, type[ModelConfig]] = by_family(
    ResNetConfig,
    DenseNetConfig,
    MobileNetV1Config,
    MobileNetV2Config,
    MobileNetV3Config,
    EfficientNetConfig,
    VGGConfig,
    AlexNetConfig,
    GoogLeNetConfig,
    InceptionV3Config,
    PlainConfig,
    BlocksConfig,
)
#: preset name -> the query string that defines it, every family's (declared by the family modules
#: imported above, in the order they were imported).
PRESETS: dict[str, str] = registered_presets()


def build(config: ModelConfig, device: str | torch.device | None = None) -> BuiltModel:
    """Instantiate the model of ``config``. ``device="meta"`` builds shapes only (no memory).

    On any real device the weights are drawn on the CPU and then moved there: CUDA's random
    generator is not the CPU's, so the same seed gives the same weights on every device.
    """
    import torch

    import explorer.families.nets  # noqa: F401  (registers the builders)

    target = torch.device(device) if device is not None else torch.device("cpu")
    if target.type == "meta":
        from explorer.families.meta_init import skip_init_on_meta

        with torch.device("meta"), skip_init_on_meta():
            built = BUILDERS[type(config)](config)
    else:
        with torch.device("cpu"):
            built = BUILDERS[type(config)](config)
    if target.type not in ("meta", "cpu"):
        built.module.to(target)
    return built
