"""A fresh process's first page: the Build page draws from the presets' stored profiles before
torch is imported (about 3 s of one core), then the device picker's fragment imports torch and
reruns the app, which draws the picker and the fit note. Run in a subprocess: this test process
has imported torch already."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FRESH = r"""
import json, sys
from streamlit.testing.v1 import AppTest

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
# The fragment's timer reruns it once the page has reached the browser (AppTest has no timer, and
# renders later runs of app.py's pages alone): the same fragment in a script of its own.
PICKER_PLACE = '''
import streamlit as st
from pages._shared.device import device_pending, page_done, torch_imported
if torch_imported():
    st.write("the device picker")
else:
    device_pending()
page_done()
'''
import time
from pages._shared.device import DRAW_GRACE_S

fragment = AppTest.from_string(PICKER_PLACE, default_timeout=120)
fragment.run()
fragment.run()  # the timer's run within the grace: the page may not be drawn yet, torch waits
before = {"torch": "torch" in sys.modules, "text": [c.value for c in fragment.caption]}
time.sleep(DRAW_GRACE_S)
fragment.run()  # after the grace: the fragment imports torch and reruns the app
second = {
    "exception": [str(e.value) for e in fragment.exception],
    "before": before,
    "torch": "torch" in sys.modules,
    "torchvision": "torchvision" in sys.modules,
    "text": [m.value for m in fragment.markdown],
}
print(json.dumps({"first": first, "second": second}))
"""


def test_the_first_page_draws_before_torch_and_the_device_picker_follows() -> None:
    done = subprocess.run([sys.executable, "-c", FRESH], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    first, second = result["first"], result["second"]
    assert first["exception"] == [] and second["exception"] == []
    assert first["torch"] is False and first["torchvision"] is False  # drawn without torch...
    assert first["params"] == ["11,689,512"]  # ...with ResNet-18's real numbers (stored profile)
    assert first["training"] and first["training"][0] != "n/a"
    assert "Device: starting PyTorch…" in first["sidebar"] and "Device" not in first["selectboxes"]
    assert second["before"] == {"torch": False, "text": ["Device: starting PyTorch…"]}
    assert second["exception"] == [] and second["torch"] is True
    assert second["torchvision"] is True  # the families too: a class's first new config does not wait for it
    assert second["text"] == ["the device picker"]  # the app's rerun, with torch: the real picker
