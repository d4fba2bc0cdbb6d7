"""The block editor: its rows come from the traced structure, edits are validated by the library, and
on the Build page adding, moving and rewriting blocks changes the URL's config (or names the bad block)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.analysis.composer import EXAMPLES, BlockRow, block_rows, moved, with_blocks
from explorer.config import parse_query
from explorer.families.blockspec import parse_blocks
from explorer.knobs import ConfigError

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def test_rows_follow_the_traced_blocks():
    rows = block_rows(parse_query("preset=hybrid_resnet"))
    assert rows == [
        BlockRow(1, "res64", 64, 64, 56, 56, 1),
        BlockRow(2, "res128.s2", 64, 128, 56, 28, 1),
        BlockRow(3, "res256.s2", 128, 256, 28, 14, 1),
    ]
    repeated = block_rows(parse_query("family=blocks&blocks=res64.x3,res128.s2"))
    assert [(r.text, r.repeats, r.in_side, r.out_side) for r in repeated] == [
        ("res64.x3", 3, 56, 56),
        ("res128.s2", 1, 56, 28),
    ]


def test_edits_are_validated_and_examples_parse():
    config = parse_query("preset=hybrid_resnet")
    assert with_blocks(config, ["res64", " ", "res128.s2"]).blocks == "res64,res128.s2"
    with pytest.raises(ConfigError, match=r"block 7 'res64.s2': stride 2 shrinks the 1 px map below 1 pixel"):
        with_blocks(config, ["res64.s2"] * 10)
    with pytest.raises(ConfigError, match="at least one block"):
        with_blocks(config, [])
    assert moved(["a", "b", "c"], 2, -1) == ["a", "c", "b"] and moved(["a", "b"], 0, -1) == ["a", "b"]
    for text in EXAMPLES.values():
        assert parse_blocks("blocks", text)


def open_composer() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["preset"] = "hybrid_resnet"
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_build_page_adds_and_moves_blocks():
    at = open_composer()
    editor = at.dataframe[0].value  # st.data_editor
    assert list(editor["block"]) == ["res64", "res128.s2", "res256.s2"]
    assert list(editor["out"]) == ["64 ch, 56 px", "128 ch, 28 px", "256 ch, 14 px"]
    at.selectbox(key="composer.kind").set_value("mb")
    at.button(key="composer.add").click().run()
    assert not at.exception, at.exception
    assert at.query_params["blocks"] == "res64,res128.s2,res256.s2,mb24.s2"  # mb24.e6.s2 in canonical form
    at.run()  # the URL's config shows in the widgets
    at.selectbox(key="composer.position").set_value(3)
    at.button(key="composer.up").click().run()
    assert at.query_params["blocks"] == "res64,res128.s2,mb24.s2,res256.s2"


def test_a_block_that_cannot_fit_is_named_and_not_applied():
    at = open_composer()
    for _ in range(6):
        at.selectbox(key="composer.kind").set_value("max")
        at.button(key="composer.add").click().run()
    errors = " ".join(e.value for e in at.error)
    assert "Not applied: blocks: block" in errors and "below 1 pixel" in errors
