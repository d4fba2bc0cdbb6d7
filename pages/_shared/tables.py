"""Tables as people read them: exact counts with thousands separators, fractions as percentages
(:func:`explorer.views.tables.number_formats`), still sorting as numbers."""

from __future__ import annotations

from typing import Any

import streamlit as st

from explorer.views.tables import number_formats


def table(data: Any, column_config: dict[str, Any] | None = None, **options: Any) -> Any:
    """``st.dataframe`` of ``data`` (a DataFrame, a dict of columns or a list of rows) with readable
    number columns; ``column_config`` entries the page gives win."""
    formats = {name: st.column_config.NumberColumn(format=f) for name, f in number_formats(_columns(data)).items()}
    return st.dataframe(data, column_config=formats | (column_config or {}), **options)


def _columns(data: Any) -> dict[str, list[Any]]:
    if hasattr(data, "columns"):  # a DataFrame
        return {str(name): data[name].tolist() for name in data.columns}
    if isinstance(data, dict):
        return {str(name): list(values) for name, values in data.items()}
    rows = list(data)
    return {str(name): [row.get(name) for row in rows] for name in (rows[0] if rows else {})}
