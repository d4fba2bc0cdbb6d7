"""The config language described from the registry: for the CLI's ``keys`` command and the README."""

from __future__ import annotations

from typing import Any

from explorer.families import FAMILIES, PRESETS
from explorer.knobs import knobs


def _default_text(config_type: Any, name: str, spec: Any) -> str:
    default = getattr(config_type(), name)
    if default is None:
        return "auto: " + (config_type.resolution_rule if name == "resolution" else str(spec.derived))
    return spec.format(default)


def describe_families() -> list[dict[str, Any]]:
    return [
        {
            "family": family,
            "title": config_type.title,
            "keys": [
                {
                    "key": name,
                    "default": _default_text(config_type, name, spec),
                    "allowed": spec.describe_range(),
                    "help": spec.help,
                }
                for name, spec in knobs(config_type).items()
            ],
        }
        for family, config_type in FAMILIES.items()
    ]


def markdown_table() -> str:
    """Every family's keys as Markdown (the README's config-language section is this output)."""
    lines: list[str] = []
    for family in describe_families():
        lines += [
            f"**`family={family['family']}`** ({family['title']})",
            "",
            "| key | default | allowed | meaning |",
            "|---|---|---|---|",
        ]
        lines += [f"| `{k['key']}` | {k['default']} | {k['allowed']} | {k['help']} |" for k in family["keys"]]
        lines.append("")
    lines.append("**Presets** (`preset=NAME`, other keys override): " + ", ".join(f"`{p}`" for p in PRESETS))
    return "\n".join(lines)
