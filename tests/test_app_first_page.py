"""A fresh process's first page: the Build page draws from the presets' stored profiles before
torch is imported (about 3 s of one core); then the process warms up in the background (torch, the
model families, the library, one model: explorer.runtime.warm), the device picker's fragment reruns
the app, which draws the picker, and the first design that is not stored opens without importing
anything heavy in its own run. Run in a subprocess: this test process has imported torch already."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FRESH = r"""
import json, sys
from streamlit.testing.v1 import AppTest
from explorer.runtime import warm

at = AppTest.from_file("app.py", default_timeout=120)
at.run()
first = {
    "exception": [str(e.value) for e in at.exception],
    "torch": "torch" in sys.modules,
    "torchvision": "torchvision" in sys.modules,
    "params": [m.value for m in at.metric if m.label == "Parameters"],
    "training": [m.value for m in at.metric if m.label.startswith("Training memory")],
    "sidebar": [c.value for c in at.sidebar.caption],
    "selectboxes": [s.label for s in at.sidebar.selectbox],
    "notes": [c.value for c in at.caption if "fits" in c.value or "budget" in c.value],
}
# The page asked for the warm-up once drawn (page_done): it runs in a thread of its own.
warmed = warm.wait_ready(timeout=240)
report = warm.warm_report()
# The fragment's timer reruns it (AppTest has no timer, and renders later runs of app.py's pages
# alone): the same fragment in a script of its own, which reruns the app once the imports are done.
PICKER_PLACE = '''
import streamlit as st
from pages._shared.device import device_pending, page_done, torch_imported
if torch_imported():
    st.write("the device picker")
else:
    device_pending()
page_done()
'''
fragment = AppTest.from_string(PICKER_PLACE, default_timeout=120)
fragment.run()
second = {
    "warmed": warmed,
    "error": report.error if report else "no report",
    "modules": report.modules if report else 0,
    "exception": [str(e.value) for e in fragment.exception],
    "heavy": [name for name in ("torch", "torchvision", "captum") if name in sys.modules],
    "text": [m.value for m in fragment.markdown],
}
# A design no preset stores, opened on the warm process: its own run imports nothing heavy.
before = set(sys.modules)
fresh = AppTest.from_file("app.py", default_timeout=120)
fresh.query_params["preset"] = "resnet50"
fresh.query_params["width"] = "60"
fresh.run()
heavy = ("torch", "torchvision", "captum", "explorer", "numpy", "pandas", "plotly")
third = {
    "exception": [str(e.value) for e in fresh.exception],
    "params": [m.value for m in fresh.metric if m.label == "Parameters"],
    "imported": sorted(m for m in set(sys.modules) - before if m.split(".")[0] in heavy),
}
print(json.dumps({"first": first, "second": second, "third": third}))
"""


def test_the_first_page_draws_before_torch_and_the_warm_up_follows() -> None:
    done = subprocess.run([sys.executable, "-c", FRESH], cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    first, second, third = result["first"], result["second"], result["third"]
    assert first["exception"] == [] and second["exception"] == [] and third["exception"] == []
    assert first["torch"] is False and first["torchvision"] is False  # drawn without torch...
    assert first["params"] == ["11,689,512"]  # ...with ResNet-18's real numbers (stored profile)
    assert first["training"] and first["training"][0] != "n/a"
    assert "Device: starting PyTorch…" in first["sidebar"] and "Device" not in first["selectboxes"]
    assert second["warmed"] is True and second["error"] is None
    assert second["modules"] > 40  # the library from runtime down: every module a design is built and run with
    assert second["heavy"] == ["torch", "torchvision", "captum"]
    assert second["text"] == ["the device picker"]  # the app's rerun, with torch: the real picker
    assert third["params"] and third["params"][0] != "11,689,512"  # the design's own count, computed now
    assert third["imported"] == []  # the warm-up had imported all of it: the class does not wait for it
