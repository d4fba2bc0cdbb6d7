"""The Build page's Export tab: the design as a standalone Python file (shown, with the code
block's copy button, and downloadable), and ONNX and ``torch.export`` files made on click.

The library does the work (:mod:`explorer.export`); this module only lays out widgets. Files are
cached per canonical query, so a class downloading the same design shares one export. ONNX and
``.pt2`` build the model for real: the memory guard refuses a design too large for this machine
before anything is allocated, and its message is shown instead of the buttons.
"""

from __future__ import annotations

import re

import streamlit as st

from explorer.config import parse_query
from explorer.export.formats import too_large
from explorer.knobs import ModelConfig
from explorer.measure.profile_data import Profile

#: format -> (button words, file suffix, MIME type)
BINARY_FORMATS = {
    "onnx": ("ONNX", ".onnx", "application/octet-stream"),
    "pt2": ("torch.export (.pt2)", ".pt2", "application/octet-stream"),
}
HOW = {
    "torchvision": "torchvision's own model function",
    "torchvision classes": "torchvision's classes with explicit arguments",
    "own classes": "the explorer's modules, written out in the file",
}


@st.cache_data(max_entries=64, show_spinner=False)
def cached_code(query: str) -> tuple[str, str]:
    """The file's text and how it builds the model."""
    from explorer.export.code import model_code

    code = model_code(parse_query(query))
    return code.text, code.how


@st.cache_data(max_entries=8, show_spinner=False)
def cached_file(query: str, format: str) -> bytes:
    """An ONNX or ``.pt2`` file of the design (the tests check these formats; not re-checked here)."""
    from explorer.export.formats import export

    return export(parse_query(query), format, check=False).data


def file_stem(config: ModelConfig) -> str:
    """A file name for the design: its query with the separators made safe."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", config.query.replace("preset=", "").replace("family=", ""))[:80]


def export_tab(config: ModelConfig, profile: Profile) -> None:
    """Code with a copy button and the three downloads."""
    stem = file_stem(config)
    with st.spinner("Writing the code…"):
        text, how = cached_code(config.query)
    st.caption(
        f"A standalone file that needs only torch and torchvision: `build_model()` makes exactly this network, "
        f"from {HOW[how]}. Module names are the explorer's, so state dicts load both ways with `strict=True`. "
        "The tests run every preset's file in a fresh interpreter and compare it with this model."
    )
    columns = st.columns(3)
    columns[0].download_button(
        "Download code (.py)", text, file_name=f"{stem}.py", mime="text/x-python", key="export.code"
    )
    refusal = too_large(profile)
    for column, (format, (words, suffix, mime)) in zip(columns[1:], BINARY_FORMATS.items(), strict=True):
        made = st.session_state.get(f"export.made.{format}") == config.query
        if refusal is not None:
            column.button(f"Make {words}", key=f"export.make.{format}", disabled=True, help=refusal)
        elif not made and column.button(f"Make {words}", key=f"export.make.{format}", help="Exports the model"):
            with column, st.spinner(f"Exporting {words}…"):
                try:
                    cached_file(config.query, format)
                except ValueError as error:  # ExportError names the operator
                    column.error(str(error))
                else:
                    st.session_state[f"export.made.{format}"] = config.query
                    made = True
        if made:
            data = cached_file(config.query, format)
            side = profile.resolution
            column.download_button(
                f"Download {words}",
                data,
                file_name=f"{stem}{suffix}",
                mime=mime,
                key=f"export.download.{format}",
                help=f"{len(data):,} bytes; input shape (1, {config.in_channels}, {side}, {side})",
            )
    if refusal is not None:
        st.warning(refusal)
    st.code(text, language="python", height=520)
