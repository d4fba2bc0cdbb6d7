"""The torch modules and builder of the ``efficientnet`` family.

Its config, knobs and presets are :mod:`explorer.families.efficientnet`, which imports no torch.
"""

from __future__ import annotations

from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf

from explorer.families.efficientnet import EfficientNetConfig
from explorer.families.nets.base import BuiltModel, Stage, register_builder, replace_first_conv_in_channels


@register_builder(EfficientNetConfig)
def build_efficientnet(cfg: EfficientNetConfig) -> BuiltModel:  # type: ignore[override]
    setting, last_channel = _efficientnet_conf("efficientnet_b0", width_mult=cfg.width, depth_mult=cfg.depth)
    model = EfficientNet(setting, dropout=0.2, num_classes=cfg.classes, last_channel=last_channel)
    replace_first_conv_in_channels(model, cfg.in_channels)
    last = len(model.features) - 1
    stages = [Stage("stem", ("features.0",))]
    for i in range(1, last):
        blocks = tuple(f"features.{i}.{j}" for j in range(len(model.features[i])))
        stages.append(Stage(f"stage{i}", (f"features.{i}",), blocks))
    stages.append(Stage("head", (f"features.{last}", "avgpool", "classifier")))
    return BuiltModel(cfg, model, tuple(stages))
