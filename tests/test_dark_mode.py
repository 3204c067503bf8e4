"""Dark mode (gradio's ?__theme=dark) in real Chromium: the charts take the page's colours, with
light text on no white backdrop, like the rest of the page."""

from __future__ import annotations

import re

import pytest
from conftest import fill_opened

pytestmark = pytest.mark.browser


def test_charts_follow_dark_mode(browser, app_url):
    """On the app with the tiny Llama: its number-token chart in dark mode has light text and no
    white backdrop."""
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(app_url + "?__theme=dark")
        page.get_by_role("tab", name="Predict").click()
        fill_opened(page.locator("#predict-text textarea"), "Garlic press\nCrushes garlic, dishwasher safe.")
        page.locator("#predict-button").click()
        page.locator("#predict-chart .js-plotly-plot .main-svg text").first.wait_for(timeout=120_000)
        fill = page.evaluate("getComputedStyle(document.querySelector('#predict-chart .main-svg text.ytitle')).fill")
        assert _lightness(fill) > 0.6, fill
        backdrop = page.evaluate("(() => { const s = getComputedStyle(document.querySelector('#predict-chart "
                                 ".main-svg .bg')); return [s.fill, s.fillOpacity]; })()")
        assert backdrop[1] == "0" or backdrop[0] in ("rgba(0, 0, 0, 0)", "transparent"), backdrop  # see-through
    finally:
        context.close()


def _lightness(css_rgb: str) -> float:
    r, g, b = (int(v) for v in re.findall(r"\d+", css_rgb)[:3])
    return (max(r, g, b) + min(r, g, b)) / 510
