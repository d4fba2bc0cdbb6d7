"""What every family builder returns: the module and its structure (stages and blocks).

Analyses read depth, stage and block from this structure, never by guessing from module names
(the idea of timm's ``feature_info``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from explorer.knobs import ModelConfig

if TYPE_CHECKING:  # the config layer imports no torch (the first page draws before torch is imported)
    from torch import nn


@dataclass(frozen=True)
class Stage:
    """One stage of a network: a name for people, the module paths that belong to it, and the
    paths of its repeated blocks (empty for a stem or a head)."""

    name: str
    modules: tuple[str, ...]
    blocks: tuple[str, ...] = ()


@dataclass
class BuiltModel:
    config: ModelConfig
    module: nn.Module
    stages: tuple[Stage, ...]

    def stage_of(self, module_name: str) -> Stage:
        """The stage that owns a module path (longest matching prefix)."""
        best: tuple[int, Stage] | None = None
        for stage in self.stages:
            for prefix in stage.modules:
                matches = module_name == prefix or module_name.startswith(prefix + ".")
                if matches and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), stage)
        if best is None:
            raise KeyError(f"module '{module_name}' belongs to no stage")
        return best[1]

    def block_of(self, module_name: str) -> str | None:
        stage = self.stage_of(module_name)
        for block in stage.blocks:
            if module_name == block or module_name.startswith(block + "."):
                return block
        return None


C = TypeVar("C", bound=ModelConfig)
#: A family's builder takes its own config class (``build_resnet(cfg: ResNetConfig)``).
Builder = Callable[[C], BuiltModel]
#: config class -> its builder; :func:`explorer.families.build` calls the one of ``type(config)``.
BUILDERS: dict[type[ModelConfig], Callable[[Any], BuiltModel]] = {}


def register_builder(config_type: type[C]) -> Callable[[Builder[C]], Builder[C]]:
    """Register the decorated function as the builder of ``config_type``'s models; a config type has
    one builder (a second raises ValueError instead of silently replacing the first)."""

    def wrap(builder: Builder[C]) -> Builder[C]:
        if config_type in BUILDERS:
            earlier = BUILDERS[config_type]
            raise ValueError(
                f"a second builder for {config_type.__name__}: {builder.__module__}.{builder.__qualname__} "
                f"(the first: {earlier.__module__}.{earlier.__qualname__})"
            )
        BUILDERS[config_type] = builder
        return builder

    return wrap
