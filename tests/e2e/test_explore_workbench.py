"""Explore as a workbench (issue 19): the first touch of a slider draws before any strip, a fast drag ends drawn,
readable captions that filter and sort, blinding of consensus and measured hints, the prior notice without layout jumps."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Server, Tab
from tests.e2e.test_webapp import api_image, assert_same_image, canvas_gray, wait_cells

pytestmark = pytest.mark.browser

TOKEN_KEY = "latentct.annotatorToken"

# Records, from now on, when each grid canvas draws (latentct:frame) and when each request starts (resource timing).
RECORD_JS = """
() => {
  window.__frames = [];
  window.__requests = [];
  document.addEventListener('latentct:frame', (e) => {
    const canvases = [...document.querySelectorAll('#explore-grid canvas')];
    const key = e.detail.canvas.dataset.key || '';
    window.__frames.push({ cell: canvases.indexOf(e.detail.canvas), t: e.detail.t, source: e.detail.source, key });
  });
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__requests.push({ url: entry.name, start: entry.startTime });
  }).observe({ type: 'resource' });
}
"""

# A first touch as a pointer does it: pointerdown (which focuses the direction) and input in one task.
TOUCH_JS = """
([direction, value]) => {
  const slider = document.getElementById(`explore-slider-${direction}`);
  window.__touchedAt = performance.now();
  slider.dispatchEvent(new PointerEvent('pointerdown', { bubbles: true }));
  slider.focus();
  slider.value = String(value);
  slider.dispatchEvent(new Event('input', { bubbles: true }));
}
"""


def sign_in(tab: Tab, token: str, query: str) -> None:
    """Open `query` with `token` in this tab's sessionStorage, as the Label view's sign-in leaves it."""
    tab.open(query)
    tab.page.evaluate("([key, token]) => sessionStorage.setItem(key, token)", [TOKEN_KEY, token])
    tab.open(query)


def post_label(server: Server, token: str, model: str, set_id: str, direction: int, term: str) -> None:
    body = {"model": model, "set": set_id, "direction": direction, "term": term, "confidence": 4}
    response = server.api("POST", "/labels", token=token, json=body)
    assert response.status_code == 201, response.text


def row(tab: Tab, k: int) -> Any:
    return tab.page.locator(f"#explore-sliders .slider-row[data-direction='{k}']")


def grid_top(tab: Tab) -> float:
    return float(tab.page.evaluate("() => document.getElementById('explore-viewer').getBoundingClientRect().top"))


# ---- item 5: the first touch --------------------------------------------------------------------------------------


def test_first_touch_draws_the_move_before_any_strip_is_fetched(tab: Tab, server: Server) -> None:
    page = tab.page
    tab.open("?view=explore&model=tiny-gan&set=sefa&seed=777&n=6&window=full")
    wait_cells(tab, 6)
    page.wait_for_timeout(200)
    page.evaluate(RECORD_JS)
    page.evaluate(TOUCH_JS, [2, 1.5])
    page.wait_for_selector("#explore-grid[data-strips-ready='2']")
    frames = page.evaluate("() => window.__frames")
    requests = page.evaluate("() => window.__requests")
    first_frames = {}
    for frame in frames:
        first_frames.setdefault(frame["cell"], frame["t"])
    assert sorted(first_frames) == list(range(6)), frames
    strips = [r["start"] for r in requests if "/traversal.png" in r["url"]]
    images = [r for r in requests if "/image.png" in r["url"] and "shift=2%3A1.5" in r["url"]]
    assert len(images) == 6 and len(strips) == 6, requests
    # the frame of the move itself is drawn on every cell before the first strip is even asked for
    assert max(first_frames.values()) <= min(strips), (first_frames, strips)
    expected = api_image(server, "tiny-gan", seed=777, set="sefa", shift="2:1.5", window="full")
    assert_same_image(canvas_gray(tab, 0), expected)
    # then scrubbing runs from the strips
    page.locator("#explore-slider-2").press("ArrowRight")
    page.wait_for_function("() => document.querySelector('#explore-grid canvas').dataset.source === 'strip'")
    assert tab.console.errors == []


def test_a_fast_first_drag_ends_drawn_before_any_strip_is_fetched(tab: Tab, server: Server) -> None:
    page = tab.page
    tab.open("?view=explore&model=tiny-gan&set=sefa&seed=4242&n=6&window=full&extent=6")
    wait_cells(tab, 6)
    page.wait_for_timeout(200)
    page.evaluate(RECORD_JS)
    values = [round(-6 + i * 12 / 32, 4) for i in range(17, 33)]  # 16 inputs, 0.375 apart: a drag to the right
    page.evaluate(
        """async ([values]) => {
             const slider = document.getElementById('explore-slider-1');
             slider.dispatchEvent(new PointerEvent('pointerdown', { bubbles: true }));
             slider.focus();
             for (const v of values) {
               slider.value = String(v);
               slider.dispatchEvent(new Event('input', { bubbles: true }));
               await new Promise((r) => setTimeout(r, 8));
             }
           }""",
        [values],
    )
    page.wait_for_selector("#explore-grid[data-strips-ready='1']")
    frames = page.evaluate("() => window.__frames")
    strips = [r["start"] for r in page.evaluate("() => window.__requests") if "/traversal.png" in r["url"]]
    last = f"1:{values[-1]:g}"
    final = {f["cell"]: f["t"] for f in reversed(frames) if f["key"].endswith(f"|{last}")}
    # the last value of the drag wins: every cell draws it, from image.png, before a strip is even asked for
    assert sorted(final) == list(range(6)), frames
    assert strips and max(final.values()) <= min(strips), (final, strips)
    for index in (0, 5):
        expected = api_image(server, "tiny-gan", seed=4242 + index, set="sefa", shift=last, window="full")
        assert_same_image(canvas_gray(tab, index), expected)
    assert page.locator("#explore-slider-1").get_attribute("aria-valuetext").startswith("+6.00")
    assert tab.console.errors == []


# Wraps fetch before the app loads: each request's URL, priority hint, signal and whether it has settled.
FETCH_SPY_JS = """
window.__fetches = [];
const realFetch = window.fetch;
window.fetch = function (input, init = {}) {
  const record = { url: String(input), priority: init.priority || null, signal: init.signal || null, settled: false };
  window.__fetches.push(record);
  const answer = realFetch.call(this, input, init);
  answer.then(() => { record.settled = true; }, () => { record.settled = true; });
  return answer;
};
"""


def test_strip_prefetch_is_low_priority_and_cancelled_when_the_focus_moves(tab: Tab) -> None:
    page = tab.page
    page.add_init_script(FETCH_SPY_JS)
    tab.open("?view=explore&model=tiny-gan&set=sefa&seed=31337&n=6&window=full")
    wait_cells(tab, 6)
    # focus alone prefetches the strips of d0, one at a time; as soon as the first is asked for, d3 takes the focus
    page.evaluate(
        """async () => {
             document.getElementById('explore-slider-0').focus();
             const asked = () => window.__fetches.some((f) => f.url.includes('traversal.png') && f.url.includes('direction=0'));
             while (!asked()) await new Promise((r) => setTimeout(r, 1));
             document.getElementById('explore-slider-3').focus();
           }"""
    )
    page.wait_for_selector("#explore-grid[data-strips-ready='3']")
    fetches = page.evaluate(
        """() => window.__fetches.map((f) => ({ url: f.url, priority: f.priority, settled: f.settled,
                                                aborted: Boolean(f.signal && f.signal.aborted) }))"""
    )
    strips = [f for f in fetches if "traversal.png" in f["url"]]
    assert strips and all(f["priority"] == "low" for f in strips), strips
    d0 = [f for f in strips if "direction=0" in f["url"]]
    assert len(d0) < 6, d0  # the rest of d0's strips were never asked for
    assert all(f["settled"] or f["aborted"] for f in d0), d0
    assert len([f for f in strips if "direction=3" in f["url"]]) == 6
    assert tab.console.errors == []


# ---- item 10: captions, filter, sort ------------------------------------------------------------------------------


def test_slider_captions_are_readable_and_the_list_filters_and_sorts(tab: Tab) -> None:
    page = tab.page
    tab.open("?view=explore&model=tiny-gan&set=sefa&n=1")
    page.wait_for_selector("#explore-sliders .slider-row[data-direction='3']")
    captions = [row(tab, k).locator(".slider-label").inner_text() for k in range(4)]
    assert all(c.startswith(f"d{k}") for k, c in enumerate(captions)), captions
    measured = [k for k, c in enumerate(captions) if "(measured" in c]
    assert measured, captions  # the tiny scorecard measures every probe factor on one of the four directions
    # nothing is cut off, and the raw metrics are in the tooltip
    clipped = page.evaluate(
        "() => [...document.querySelectorAll('#explore-sliders .slider-label')]"
        ".filter((l) => l.scrollWidth > l.clientWidth + 1).length"
    )
    assert clipped == 0
    assert "score: 2" in (row(tab, 2).locator(".slider-label").get_attribute("title") or "")

    page.locator("#explore-slider-filter").fill("d2")
    assert [row(tab, k).is_visible() for k in range(4)] == [False, False, True, False]
    assert page.locator("#explore-sliders-hint").inner_text().startswith("1 of 4")
    factor_word = row(tab, measured[0]).locator(".measured").inner_text().split("?")[0].split(" (")[0]
    page.locator("#explore-slider-filter").fill(factor_word)
    assert row(tab, measured[0]).is_visible()
    page.locator("#explore-slider-filter").fill("")
    assert all(row(tab, k).is_visible() for k in range(4))

    page.locator("#explore-slider-sort").select_option("measured")  # directions with a measured factor first
    order = page.evaluate("() => [...document.querySelectorAll('#explore-sliders .slider-row')].map((r) => r.dataset.direction)")
    assert set(order[: len(measured)]) == {str(k) for k in measured}, order
    page.locator("#explore-slider-sort").select_option("index")
    order = page.evaluate("() => [...document.querySelectorAll('#explore-sliders .slider-row')].map((r) => r.dataset.direction)")
    assert order == ["0", "1", "2", "3"]
    tab.screenshot("explore-captions")
    assert tab.console.errors == []


# ---- item 4: blinding in Explore ----------------------------------------------------------------------------------


def test_explore_blinds_consensus_and_measured_hints(tab: Tab, browser: Any, server: Server) -> None:
    first = server.add_annotator("blind A")
    second = server.add_annotator("blind B")
    admin = server.add_annotator("blind admin", role="admin")
    for direction in (0, 1):
        post_label(server, first["token"], "tiny-gan", "sefa", direction, "rotation")
    post_label(server, second["token"], "tiny-gan", "sefa", 1, "rotation")
    query = "?view=explore&model=tiny-gan&set=sefa&n=1"
    page = tab.page

    # signed out: no consensus anywhere, measured factors shown (a researcher exploring)
    tab.open(query)
    page.wait_for_selector("#explore-sliders .slider-row[data-direction='3']")
    assert page.locator("#explore-sliders .consensus").count() == 0
    assert "% of" not in page.locator("#explore-sliders").inner_text()
    assert page.locator("#explore-sliders .measured").count() > 0

    # an annotator: consensus and measured hints only on the direction they labelled (d1)
    sign_in(tab, second["token"], query)
    page.wait_for_selector("#explore-sliders .slider-row[data-direction='1'] .consensus:not(.none)")
    assert "% of 2" in row(tab, 1).inner_text()
    for k in (0, 2, 3):
        assert row(tab, k).locator(".consensus, .measured").count() == 0, row(tab, k).inner_text()
        tooltip = row(tab, k).locator(".slider-label").get_attribute("title") or ""
        assert "best factor" not in tooltip and "tracks" not in tooltip
    page.locator("#explore-slider-0").focus()
    assert "Rotation" not in page.locator("#explore-focus-line").inner_text()

    # an admin sees everything
    sign_in(tab, admin["token"], query)
    page.wait_for_selector("#explore-sliders .slider-row[data-direction='0'] .consensus:not(.none)")
    assert "% of 1" in row(tab, 0).inner_text() or "% of 2" in row(tab, 0).inner_text()
    assert page.locator("#explore-sliders .measured").count() > 0
    assert tab.console.errors == []


# ---- item 12: far outside the prior, without layout jumps ---------------------------------------------------------


def test_far_shifts_show_a_prior_notice_and_nothing_jumps(tab: Tab) -> None:
    page = tab.page
    tab.open("?view=explore&model=tiny-gan&set=sefa&seed=9&n=4&extent=30&window=full")
    wait_cells(tab, 4)
    top = grid_top(tab)
    notice = page.locator("#explore-prior-notice")
    assert notice.inner_text().strip() == ""

    page.locator("#explore-slider-0").focus()  # the focus line fills in: nothing moves
    page.wait_for_function("() => document.getElementById('explore-focus-line').textContent.startsWith('d0')")
    assert grid_top(tab) == top
    for _ in range(2):  # 2 steps of 60/32: 3.75 prior sd along d0
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.getElementById('explore-prior-notice').textContent.includes('outside the prior')")
    assert "3.8 sd long" in notice.inner_text()
    assert grid_top(tab) == top
    page.evaluate("async () => (await import('/static/js/ui.js')).notify('Link copied')")  # a confirmation floats
    page.wait_for_selector("#notices .notice")
    assert grid_top(tab) == top
    tab.screenshot("explore-prior-notice")

    page.locator("#explore-reset").click()
    page.wait_for_function("() => document.getElementById('explore-prior-notice').textContent === ''")
    assert grid_top(tab) == top
    assert tab.console.errors == []
