"""The three tabs at a phone's width (390 px) in real Chromium: nothing wider than the screen,
the Evaluate scatter as wide as the screen allows and its table's numbers whole, the
Tokenizer's checkbox labels readable."""

from __future__ import annotations

import re

import pytest
from conftest import fill_opened
from playwright.sync_api import expect

PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser


@pytest.fixture
def phone(browser, app_url):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("tab", name="Evaluate").wait_for(timeout=60_000)
    yield page
    context.close()


def _no_sideways_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def _clipped(page, selector: str) -> list[str]:
    """Texts of the elements under `selector` whose content is wider than their box."""
    return page.evaluate(
        "(sel) => [...document.querySelectorAll(sel)].filter(e => e.scrollWidth > e.clientWidth + 1)"
        ".map(e => e.innerText)", selector)


def test_the_tokenizer_checkboxes_keep_their_labels_whole(phone):
    phone.locator("#tok-chips .chip").first.wait_for(timeout=60_000)
    for name in ("Add special tokens (encode)", "Skip special tokens (decode)"):
        box = phone.get_by_label(name).locator("xpath=ancestor::label[1]").bounding_box()
        assert box and box["width"] > 200, name  # squeezed, they were 18 px wide and cut to a letter
    assert _clipped(phone, "label.checkbox-container") == []
    _no_sideways_scroll(phone)


def test_the_predict_tab_fits_the_screen_and_its_answers_scroll_in_their_own_box(phone):
    phone.get_by_role("tab", name="Predict").click()
    button = phone.locator("#predict-button")
    button.wait_for()
    assert button.bounding_box()["width"] > 300
    assert phone.locator("#predict-text textarea").bounding_box()["width"] > 280
    fill_opened(phone.locator("#predict-text textarea"), "Stainless Steel Garlic Press\nCrushes garlic cloves, dishwasher safe")
    button.click()
    phone.wait_for_function("document.querySelector('#predict-result tr[data-pricer=cpu]')", timeout=120_000)
    wrap = phone.locator("#predict-result .answers-wrap")
    box = wrap.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    # every column can be reached: the table fits its box, or the box scrolls sideways to it
    assert phone.evaluate("(w) => w.scrollWidth <= w.clientWidth || getComputedStyle(w).overflowX === 'auto'",
                          wrap.element_handle())
    wrap.evaluate("w => { w.scrollLeft = w.scrollWidth; }")
    last = phone.locator("#predict-result tr[data-pricer=cpu] td").last.bounding_box()
    assert last and last["x"] + last["width"] <= PHONE["width"] + 1  # the "off by" column, scrolled to
    _no_sideways_scroll(phone)


def test_the_evaluate_scatter_takes_the_width_and_the_numbers_show_whole(phone, test_250):
    phone.get_by_role("tab", name="Evaluate").click()
    size = phone.get_by_label("Test items (the first N)").first
    fill_opened(size, "5")
    size.press("Enter")
    phone.get_by_label("top-3 number tokens", exact=False).check()  # always a price from 1 to 999
    phone.locator("#evaluate-run").click()
    # the run's last status line (the progress overlay in the same box says "5/5 items" first)
    expect(phone.locator("#evaluate-status")).to_contain_text(re.compile("5/5 items (done|from the cache)"),
                                                              timeout=180_000)
    expect(phone.locator("#evaluate-plot .scatterlayer .point")).to_have_count(5, timeout=60_000)
    plot = phone.locator("#evaluate-plot .main-svg").first.bounding_box()
    assert plot and plot["width"] > 300  # it was 130 px beside its legend
    area = phone.locator("#evaluate-plot .nsewdrag").first.bounding_box()  # the square between the axes
    assert area and area["width"] > 220
    rows = phone.locator("#evaluate-table [role=row]")
    expect(rows).to_have_count(6)
    numbers = phone.evaluate(
        "() => [...document.querySelectorAll('#evaluate-table [role=row]')].slice(1).map(r =>"
        " [1, 2, 3].map(col => r.querySelector(`[role=gridcell][data-col='${col}'] .cell-wrap span`))"
        " .map(c => [c.innerText, c.scrollWidth <= c.clientWidth + 1]))")  # the span holds the ellipsis
    assert len(numbers) == 5 and all(len(r) == 3 for r in numbers)
    for row in numbers:
        for text, whole in row:
            assert whole and "…" not in text and float(text) >= 0, row  # was cut to "1…"
    header = phone.locator("#evaluate-table [role=row]").first.bounding_box()
    assert header and header["x"] >= 0
    _no_sideways_scroll(phone)
