"""The Deformable page in a real browser: train the offsets, then click a location on the picture."""

from __future__ import annotations

QUERY = "family=plain&depth=4&width=4&deform=on&resolution=16"

# Screen position of data point (x, y) in the plotly chart whose title contains the given text
# (Streamlit wraps titles in <b>), after scrolling that chart into view.
_POINT_JS = """([title, x, y]) => {
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const text = gd._fullLayout && gd._fullLayout.title && gd._fullLayout.title.text;
    if (!text || !text.includes(title)) continue;
    gd.scrollIntoView({block: "center"});  // the page is taller than the window: click where it is seen
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya.l2p(y)];
  }
  return null;
}"""


def test_train_then_click_a_location(open_app, page, wait_for_app, tmp_path):
    open_app(f"/deform?{QUERY}")
    assert page.get_by_text("Untrained: every offset is zero").count() == 1
    page.locator(".st-key-deform-train button").click()
    wait_for_app(page, timeout=240)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("trained here on generated shapes for 30 steps", exact=False).count() == 1

    # The last layer (stage3.0.conv1, 4x4 outputs, 4 image px apart) starts at the centre (2, 2).
    assert page.get_by_text("After: stage3.0.conv1 at (2, 2)").count() == 1
    position = page.evaluate(_POINT_JS, ["After: stage3.0.conv1", 1 * 4, 3 * 4])  # output (3, 1): y 12, x 4
    assert position is not None
    page.mouse.move(*position)
    page.mouse.click(*position)
    wait_for_app(page)
    assert page.get_by_text("After: stage3.0.conv1 at (3, 1)").count() == 1
    assert page.get_by_text("Before training: stage3.0.conv1 at (3, 1)").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(tmp_path / "deform.png"), full_page=True)
