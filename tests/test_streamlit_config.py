"""The app's Streamlit settings: students see the viewer's toolbar, not the developer's."""

from __future__ import annotations

import tomllib
from pathlib import Path

from streamlit import config

ROOT = Path(__file__).resolve().parents[1]


def test_the_toolbar_is_the_viewers() -> None:
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["toolbarMode"] == "viewer"
    option = config.get_config_options()["client.toolbarMode"]  # the installed Streamlit knows the option
    assert '"viewer"' in (option.description or "") and option.default_val == "auto"
