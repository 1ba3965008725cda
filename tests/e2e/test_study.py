"""The Study view in Chromium: an admin creates a blinded study, an annotator signs in, labels two items, and the page
never shows which direction set an item comes from."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Server, Tab

pytestmark = pytest.mark.browser

SETS = ("random", "sefa")


def _page_text(tab: Tab) -> str:
    """What the annotator can read: the visible text, every attribute value in the DOM, the address and titles."""
    return str(
        tab.page.evaluate(
            """() => [document.body.innerText, location.href, document.title,
                      ...[...document.querySelectorAll('section.view:not([hidden]) *')].flatMap(
                        (node) => [...node.attributes].map((a) => a.value))].join('\\n')"""
        )
    )


def test_an_annotator_labels_two_study_items_blinded(tab: Tab, server: Server) -> None:
    created = server.api(
        "POST", "/studies", token=server.admin_token,
        json={"model": "tiny-gan", "sets": list(SETS), "name": "e2e blinded", "directions_per_set": 2},
    )
    assert created.status_code == 201, created.text
    study_id = created.json()["id"]
    reader = server.add_annotator("Dr Study")
    tab.open("?view=study")
    page = tab.page
    page.locator(".study-signin input[type=password]").fill(reader["token"])
    page.locator(".study-signin button[type=submit]").click()
    page.locator("select[aria-label=Study]").select_option(str(study_id))
    progress = page.locator(".study-progress")
    page.wait_for_function("() => document.querySelector('.study-progress')?.textContent.includes('0 of 4')")
    for done in (1, 2):
        page.wait_for_function("() => document.querySelector('.study-frame') && document.querySelector('.study-shift')"
                               ".textContent !== 'shift ±0.00'")
        assert re.search(r"frames, left to right: −6\.00", page.locator(".study-ticks").first.inner_text())
        page.locator(".study-terms button[data-term=rotation]").click()
        page.locator(".study-confidence button[data-confidence='4']").click()
        page.locator(".study-form .btn-primary").click()
        page.wait_for_function(f"() => document.querySelector('.study-progress').textContent.startsWith('{done} of 4')")
    assert progress.inner_text().startswith("2 of 4")
    page.wait_for_function("() => document.querySelector('.study-shift').textContent !== 'shift ±0.00'")
    tab.screenshot("study")
    text = _page_text(tab).lower()
    assert "view=study" in text
    for set_id in SETS:
        assert set_id not in text, set_id
    mine = server.api("GET", "/labels", token=server.admin_token).json()
    assert sum(1 for label in mine if label["annotator_name"] == "Dr Study" and label["blinded"]) == 2

    # the admin sees the results per method (sets named) with the figure and the CSV
    page.locator("#session-status button").click()  # sign out
    page.locator(".study-signin input[type=password]").fill(server.admin_token)
    page.locator(".study-signin button[type=submit]").click()
    page.locator("select[aria-label=Study]").select_option(str(study_id))
    page.wait_for_selector(".study-results tbody tr")
    rows = page.locator(".study-results tbody tr")
    assert [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())] == list(SETS)
    assert page.locator(".study-figure-link").get_attribute("href", timeout=5000).startswith("blob:")
    tab.screenshot("study-results")
    assert tab.console.errors == []
