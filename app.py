"""CNN Architecture Explorer: the router. Pages live in pages/, the logic in explorer/."""

import streamlit as st

from explorer.runtime.release import keep_heap_trimmed
from explorer.runtime.warm import import_page_libraries, page_turn
from pages._shared.device import device_pending, device_sidebar, page_done, torch_imported

st.set_page_config(page_title="CNN Architecture Explorer", page_icon=":material/hub:", layout="wide")

PAGES = [
    st.Page("pages/build.py", title="Build", icon=":material/construction:", default=True),
    st.Page("pages/graph.py", title="Graph", icon=":material/account_tree:"),
    st.Page("pages/scaling.py", title="Scaling lab", icon=":material/straighten:"),
    st.Page("pages/signal.py", title="Signal flow", icon=":material/show_chart:"),
    st.Page("pages/saliency.py", title="Saliency", icon=":material/visibility:"),
    st.Page("pages/inside.py", title="Inside", icon=":material/layers:"),
    st.Page("pages/deform.py", title="Deformable", icon=":material/grain:"),
    st.Page("pages/lessons.py", title="Lessons", icon=":material/school:"),
    st.Page("pages/history.py", title="History", icon=":material/history:"),
]

import_page_libraries()  # whole before any page uses them: plotly peeks at numpy and pandas (see its docstring)
keep_heap_trimmed()  # the server's freed pages back to the system every few seconds (see its docstring)
with page_turn():  # until a fresh process's warm-up has imported what pages use, its imports and pages take turns
    page = st.navigation(PAGES)
    if torch_imported():
        device_sidebar()
    else:  # a fresh process's first page draws before torch is imported (see device_pending)
        with st.sidebar:
            device_pending()
    page.run()
page_done()
