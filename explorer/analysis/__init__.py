"""Pure analyses: config or model in, plain data out (no plotting, no Streamlit)."""
