"""The torch side of the families: each family's modules and its builder (``@register_builder``).

Imported by :func:`explorer.families.build` on first use, never by the configs: parsing a query,
filling the sliders and reading a stored profile import no torch (the app's first page draws
before torch, about 3 s of one core, is imported).
"""

from explorer.families.nets import (  # noqa: F401  (importing registers each family's builder)
    alexnet,
    blocks,
    densenet,
    efficientnet,
    googlenet,
    inception,
    mobilenet,
    plain,
    resnet,
    vgg,
)
