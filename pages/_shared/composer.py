"""The Build page's block editor for ``family=blocks``: a table of the body's blocks to edit, add to,
remove from and reorder; every edit is validated by the library and becomes the URL's config."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from explorer.analysis.composer import EXAMPLES, block_rows, moved, with_blocks
from explorer.families.blocks import BlocksConfig
from explorer.families.blockspec import KINDS
from explorer.knobs import ConfigError
from pages._shared.architecture import show_config

ERROR = "composer.error"


def _apply(config: BlocksConfig, texts: list[str]) -> None:
    try:
        show_config(with_blocks(config, texts))
        st.session_state[ERROR] = None
    except ConfigError as error:
        st.session_state[ERROR] = str(error)


def _add(config: BlocksConfig, texts: list[str]) -> None:
    _apply(config, [*texts, EXAMPLES[st.session_state["composer.kind"]]])  # the kind chosen at the click


def _move(config: BlocksConfig, texts: list[str], offset: int) -> None:
    _apply(config, moved(texts, st.session_state["composer.position"], offset))


def block_editor(config: BlocksConfig) -> None:
    st.subheader("Blocks")
    rows = block_rows(config)
    texts = [row.text for row in rows]
    table = pd.DataFrame(
        {
            "block": texts,
            "in": [f"{r.in_channels} ch, {r.in_side} px" for r in rows],
            "out": [f"{r.out_channels} ch, {r.out_side} px" for r in rows],
        }
    )
    edited = st.data_editor(
        table,
        num_rows="dynamic",
        disabled=["in", "out"],
        hide_index=True,
        key=f"composer.table.{config.query}",
        column_config={"block": st.column_config.TextColumn("block", help=KINDS["mb"].help, required=True)},
    )
    new_texts = [str(t) for t in edited["block"].tolist() if isinstance(t, str)]
    if new_texts != texts:
        _apply(config, new_texts)
        if st.session_state.get(ERROR) is None:
            st.rerun()
    add, where, up, down = st.columns([2, 2, 1, 1], vertical_alignment="bottom")
    kind = add.selectbox(
        "Add a block", list(EXAMPLES), format_func=lambda k: f"{k}: {EXAMPLES[k]}", key="composer.kind"
    )
    add.button(f"Add {EXAMPLES[kind]}", key="composer.add", on_click=_add, args=(config, texts))
    position = where.selectbox(
        "Move block", range(len(texts)), format_func=lambda i: f"{i + 1}: {texts[i]}", key="composer.position"
    )
    if position is not None:
        up.button("Up", key="composer.up", on_click=_move, args=(config, texts, -1))
        down.button("Down", key="composer.down", on_click=_move, args=(config, texts, 1))
    if st.session_state.get(ERROR):
        st.error(f"Not applied: {st.session_state[ERROR]}")
    st.caption("One block per row in the language of blocks, e.g. `mb24.e6.k5.s2.x2` (kind, channels, options).")
