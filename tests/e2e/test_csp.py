"""The web app under its Content-Security-Policy in a real Chromium: every view works and nothing is refused.

The policy (latentct/api/security_headers.py) allows only same-origin script, style and requests, `blob:`/`data:`
images and inline style attributes. A violation is seen twice: the page's `securitypolicyviolation` events (recorded
by a script Playwright injects before the page's own) and Chromium's console error. The last tests show that both
watchers do fire, and that the policy is enforced: an inline script, a remote image and a frame are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e.conftest import Console, Server

pytestmark = pytest.mark.browser

NARROW_WINDOW = "60,590"  # W 60 HU around the tiny VAE's ~590 HU: a slider step changes visible pixels
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.effectiveDirective} refused ${event.blockedURI || "(inline)"} in ${event.sourceFile}`);
});
"""


@dataclass
class Watched:
    page: Any
    console: Console
    base_url: str

    def open(self, query: str = "") -> Any:
        response = self.page.goto(f"{self.base_url}/{query}")
        self.page.wait_for_selector("body[data-ready]")
        return response

    def violations(self) -> list[str]:
        return list(self.page.evaluate("() => window.__cspViolations"))

    def csp_console_errors(self) -> list[str]:
        return [text for text in self.console.errors if "Content Security Policy" in text]


@pytest.fixture
def watched(browser: Any, server: Server) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    console = Console()
    console.watch(page)
    try:
        yield Watched(page=page, console=console, base_url=server.base_url)
    finally:
        context.close()


def first_canvas_pixels(watched: Watched) -> list[int]:
    return list(watched.page.evaluate(
        """() => {
             const canvas = document.querySelector("#explore-grid canvas");
             return Array.from(canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data);
           }"""
    ))


def test_the_page_carries_the_policy_and_the_framing_and_sniffing_headers(watched: Watched) -> None:
    headers = watched.open("?view=explore").headers
    directives = dict(part.strip().split(" ", 1) for part in headers["content-security-policy"].split(";"))
    assert directives["default-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"  # no inline or remote script
    assert directives["connect-src"] == "'self'" and directives["img-src"] == "'self' blob: data:"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_explore_review_and_compare_work_under_the_policy_without_a_violation(watched: Watched) -> None:
    page = watched.page
    watched.open(f"?view=explore&model=tiny-vae&set=random&seed=3&n=4&window={NARROW_WINDOW}")
    page.wait_for_function(
        """() => { const c = [...document.querySelectorAll("#explore-grid canvas")];
                   return c.length === 4 && c.every((x) => Number(x.dataset.frame) > 0); }"""
    )
    before = first_canvas_pixels(watched)
    page.locator("#explore-slider-1").focus()  # focusing a slider fetches its strips (blobs -> ImageBitmaps)
    page.wait_for_selector("#explore-grid[data-strips-ready='1']")
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => new URLSearchParams(location.search).getAll('shift').includes('1:3')")
    page.wait_for_function("() => document.querySelector('#explore-grid canvas').dataset.source === 'strip'")
    assert first_canvas_pixels(watched) != before, "the slider moved but the image did not change"

    watched.open(f"?view=review&model=tiny-vae&set=random&window={NARROW_WINDOW}")  # strips shown through blob: URLs
    page.wait_for_function(
        """() => { const imgs = [...document.querySelectorAll("#review-table img.strip")];
                   return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0); }"""
    )

    watched.open("?view=compare&model=tiny-gan&set=random&set2=random")  # heatmap cells coloured through CSSOM
    page.wait_for_selector("#compare-body .heatmap td[style]")
    colour = page.evaluate("() => getComputedStyle(document.querySelector('#compare-body .heatmap td[style]')).backgroundColor")
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent"), colour

    assert watched.violations() == []
    assert watched.csp_console_errors() == []
    assert watched.console.errors == []


def test_the_policy_refuses_inline_script_and_remote_images_and_both_watchers_see_it(watched: Watched) -> None:
    page = watched.page
    watched.open("?view=explore")
    page.evaluate(
        """() => {
             const script = document.createElement("script");
             script.textContent = "window.__inlineRan = true;";
             document.head.append(script);
             const img = document.createElement("img");
             img.src = "https://remote.example/x.png";
             document.body.append(img);
           }"""
    )
    page.wait_for_function("() => window.__cspViolations.length >= 2")
    assert page.evaluate("() => window.__inlineRan === undefined")
    violations = " | ".join(watched.violations())
    assert "script-src-elem refused inline" in violations, violations
    assert "img-src refused https://remote.example/x.png" in violations, violations
    for _ in range(100):  # console messages arrive apart from the page's events: give them up to 10 s
        if len(watched.csp_console_errors()) >= 2:
            break
        page.wait_for_timeout(100)
    assert len(watched.csp_console_errors()) >= 2, watched.console.errors


def test_no_page_may_frame_the_app(watched: Watched) -> None:
    page = watched.page
    page.set_content(f'<iframe src="{watched.base_url}/?view=label"></iframe>')  # a page of another origin, no policy
    framed = page.frames[1]
    assert framed.query_selector("#main") is None, "the app rendered inside a frame"
