"""Exports in the web app (issue 19, item 8) in a real Chromium against `latentct serve`: "Download GIF" and "Download
PNG strip" of the focused direction in Explore and of the direction shown in Label (links to traversal.gif / .png with
the view's seed, window and range), and the label exports (CSV, JSON) in Review for an admin only."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from PIL import Image

from tests.e2e.conftest import Server, Tab
from tests.e2e.test_webapp import wait_query

pytestmark = pytest.mark.browser

TOKEN_KEY = "latentct.annotatorToken"


def sign_in(tab: Tab, token: str, query: str) -> None:
    tab.open(query)
    tab.page.evaluate("([key, token]) => sessionStorage.setItem(key, token)", [TOKEN_KEY, token])
    tab.open(query)


def fetch_link(tab: Tab, server: Server, selector: str) -> tuple[dict[str, list[str]], bytes, str]:
    """The query of the link's href, the bytes it downloads, and its download file name."""
    link = tab.page.locator(selector)
    href = link.get_attribute("href")
    assert href, f"{selector} has no href"
    response = httpx.get(f"{server.base_url}{href}", timeout=60.0)
    assert response.status_code == 200, response.text
    return parse_qs(urlparse(href).query), response.content, str(link.get_attribute("download"))


def assert_traversal_gif(data: bytes, steps: int, fps: int) -> None:
    """An animated GIF of `steps` frames forth and back (2 x steps - 2 shown): Pillow merges identical consecutive
    frames and adds up their delays, so the frames are counted by the time they are shown."""
    assert data[:6] in (b"GIF89a", b"GIF87a")
    animation = Image.open(io.BytesIO(data))
    assert animation.n_frames > 1 and animation.info.get("loop") == 0
    delay_ms = max(10, round(1000 / fps / 10) * 10)
    total_ms = 0
    for index in range(animation.n_frames):
        animation.seek(index)
        total_ms += int(animation.info["duration"])
    assert total_ms == (2 * steps - 2) * delay_ms, (total_ms, animation.n_frames)


def test_explore_downloads_a_real_gif_and_png_strip_of_the_focused_direction(tab: Tab, server: Server) -> None:
    page = tab.page
    tab.open("?view=explore&model=tiny-gan&set=random&seed=42&n=4&extent=10&window=full&shift=0:1.5")
    page.wait_for_selector("#explore-download-gif[aria-disabled='true']")  # nothing focused yet: no download
    assert "Focus a direction" in str(page.locator("#explore-download-gif").get_attribute("title"))
    page.locator("#explore-slider-2").focus()
    wait_query(tab, "focus", "2")
    page.wait_for_selector("#explore-download-gif[href]")
    query, gif, filename = fetch_link(tab, server, "#explore-download-gif")
    assert {k: v[0] for k, v in query.items() if k != "shift"} == {
        "seed": "42",
        "set": "random",
        "direction": "2",
        "extent": "10",
        "steps": "17",
        "window": "full",
        "fps": "8",
    }
    assert query["shift"] == ["0:1.5"]  # the other directions' shifts stay as the base edit
    assert gif[:6] in (b"GIF89a", b"GIF87a") and filename.endswith("_research-only.gif")
    assert_traversal_gif(gif, steps=17, fps=8)
    assert "research only" in str(page.locator("#explore-download-gif").get_attribute("title"))
    _, png, filename = fetch_link(tab, server, "#explore-download-png")
    strip = Image.open(io.BytesIO(png))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and strip.size == (17 * 32, 32) and filename.endswith(".png")
    assert tab.console.errors == []


def test_label_downloads_follow_the_direction_shown(tab: Tab, server: Server) -> None:
    annotator = server.add_annotator("export labeller")
    sign_in(tab, annotator["token"], "?view=label&model=tiny-gan&set=random&dir=3&seed=7&extent=6&window=full")
    tab.page.wait_for_selector("#label-download-gif[href]")
    query, gif, _ = fetch_link(tab, server, "#label-download-gif")
    assert {k: v[0] for k, v in query.items()} == {
        "seed": "7",
        "set": "random",
        "direction": "3",
        "extent": "6",
        "steps": "17",
        "window": "full",
        "fps": "8",
    }
    assert_traversal_gif(gif, steps=17, fps=8)
    tab.page.locator("#label-prev").click()  # d2: the links follow
    tab.page.wait_for_function("() => document.querySelector('#label-download-png').href.includes('direction=2')")
    assert tab.console.errors == []


def download(tab: Tab, selector: str) -> Path:
    with tab.page.expect_download() as info:
        tab.page.locator(selector).click()
    return Path(info.value.path())


def test_admin_exports_labels_csv_and_json_from_review_with_a_saved_label(tab: Tab, server: Server) -> None:
    annotator = server.add_annotator("export source")
    marker = f"export marker {uuid.uuid4().hex[:8]}"
    body = {"model": "tiny-gan", "set": "random", "direction": 1, "term": "other", "text": marker, "confidence": 2}
    assert server.api("POST", "/labels", token=annotator["token"], json=body).status_code == 201
    admin = server.add_annotator("export admin", role="admin")["token"]
    sign_in(tab, admin, "?view=review&model=tiny-gan&set=random")
    tab.page.wait_for_selector("#review-exports button[data-export='csv']")
    rows = list(csv.DictReader(io.StringIO(download(tab, "#review-exports button[data-export='csv']").read_text())))
    mine = [r for r in rows if marker in r.values()]
    assert len(mine) == 1 and mine[0]["term"] == "other" and mine[0]["direction"] == "1", rows[-1]
    exported = json.loads(download(tab, "#review-exports button[data-export='json']").read_text())
    labels: list[dict[str, Any]] = exported if isinstance(exported, list) else exported["labels"]
    assert any(label.get("text") == marker for label in labels)
    assert tab.console.errors == []


def test_signed_out_users_get_no_export_button_and_annotators_are_told_why(tab: Tab, server: Server) -> None:
    page = tab.page
    tab.open("?view=review&model=tiny-gan&set=random")
    page.wait_for_selector("#review-table tbody tr[data-direction]")
    assert page.locator("#review-exports button").count() == 0
    assert page.locator("#review-exports").inner_text() == ""
    sign_in(tab, server.add_annotator("export reader")["token"], "?view=review&model=tiny-gan&set=random")
    page.wait_for_selector("#review-exports [data-reason='not-admin']")
    assert page.locator("#review-exports button").count() == 0
    assert "for admins" in page.locator("#review-exports").inner_text()
    assert tab.console.errors == []
