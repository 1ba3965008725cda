"""The Label view as a labelling workbench (issue 19, items 1, 2, 3 and 6) in a real Chromium against `latentct serve`.

Polarity is visible (a shift readout and a scrubber) and asked as a sign phrased with the term's positive sense; the
annotator picks window, seeds and range and the label records them (`context`); "Others so far" leaves out the
annotator's own label and names a tie; labelling works from the keyboard alone. Labels here go to tiny-gan/sefa, so
the consensus that test_webapp.py checks on tiny-vae/random is untouched.

Where the server predates `positive`/`sign`/`context` (the label backend adds them), the vocabulary is given senses
and the extra label fields are taken off before the request reaches it: the page is checked against the contract
either way, and the stored label is checked wherever the server keeps the fields.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from tests.e2e.conftest import Console, Server, Tab
from tests.e2e.test_webapp import NARROW_WINDOW, api_image, assert_same_image, canvas_gray, wait_query

pytestmark = pytest.mark.browser

ANNOTATOR_NUMBERS = itertools.count(1)

GRID = "#label-grid"
SENSES = {  # the contract's examples; only used where the server does not send `positive` yet
    "rotation": "clockwise as displayed", "breast_size": "larger", "body_thickness": "thicker", "body_size": "larger",
    "vertical_position": "anterior", "horizontal_position": "towards the patient's left", "slice_level": "towards the feet",
    "lung_volume": "larger", "heart_size": "larger", "brightness_contrast": "brighter",
}


def vocabulary_terms(data: Any) -> list[dict[str, Any]]:
    return list(data if isinstance(data, list) else data["terms"])


@dataclass
class Workbench:
    """A signed-in Label tab; `posted` holds the label bodies the page sent (before any stand-in edits them)."""

    tab: Tab
    server: Server
    annotator: dict[str, Any]
    server_has_senses: bool
    posted: list[dict[str, Any]] = field(default_factory=list)
    traversals: list[dict[str, list[str]]] = field(default_factory=list)

    @property
    def page(self) -> Any:
        return self.tab.page

    def stored_labels(self) -> list[dict[str, Any]]:
        response = self.server.api("GET", "/labels", token=self.server.admin_token, params={"annotator": self.annotator["id"]})
        assert response.status_code == 200, response.text
        return list(response.json())


def install_contract_stand_ins(workbench: Workbench) -> None:
    """Record label posts and traversal requests; give the vocabulary senses where the server has none yet."""
    page = workbench.page

    def on_request(request: Any) -> None:
        if urlparse(request.url).path.endswith("/traversal.png"):
            workbench.traversals.append(parse_qs(urlparse(request.url).query))

    def on_labels(route: Any) -> None:
        request = route.request
        if request.method != "POST":
            route.continue_()
            return
        body = json.loads(request.post_data)
        workbench.posted.append(body)
        if workbench.server_has_senses:
            route.continue_()
            return
        plain = {k: v for k, v in body.items() if k not in ("sign", "context")}
        route.continue_(post_data=json.dumps(plain))

    def on_vocabulary(route: Any) -> None:
        response = route.fetch()
        data = response.json()
        for term in vocabulary_terms(data):
            term.setdefault("positive", SENSES.get(term["id"]))
        route.fulfill(response=response, json=data)

    page.on("request", on_request)
    page.route(lambda url: urlparse(url).path == "/api/labels", on_labels)
    if not workbench.server_has_senses:
        page.route(lambda url: urlparse(url).path == "/api/vocabulary", on_vocabulary)


@pytest.fixture
def bench(tab: Tab, server: Server) -> Iterator[Workbench]:
    vocabulary = server.api("GET", "/vocabulary").json()
    has_senses = any("positive" in term for term in vocabulary_terms(vocabulary))
    workbench = Workbench(tab, server, server.add_annotator(f"Dr Roe {next(ANNOTATOR_NUMBERS)}"), has_senses)
    install_contract_stand_ins(workbench)
    yield workbench


def sign_in(workbench: Workbench, query: str) -> None:
    page = workbench.page
    workbench.tab.open(f"?view=label&{query}")
    page.locator("#signin-token").fill(workbench.annotator["token"])
    page.locator("#signin button[type=submit]").click()
    page.wait_for_selector(f"{GRID}[data-ready]")


def readout(page: Any) -> str:
    return str(page.locator("#label-shift").inner_text())


def others(page: Any) -> str:
    return str(page.locator("#label-others").inner_text())


# ---- 1. polarity can be seen, and is asked with the term's sense ----------------------------------------------------


def test_the_animation_shows_its_shift_and_a_scrubber_pauses_and_steps_it(bench: Workbench, server: Server) -> None:
    page = bench.page
    sign_in(bench, f"model=tiny-vae&set=random&seed=3&dir=1&window={NARROW_WINDOW}")
    assert page.locator("#label-play").get_attribute("aria-pressed") == "true"
    seen = set()
    for _ in range(20):  # playing: the readout follows the frames forth and back
        seen.add(readout(page))
        page.wait_for_timeout(100)
    assert len(seen) >= 3, seen

    scrubber = page.locator("#label-scrubber")
    scrubber.focus()
    page.keyboard.press("Home")  # the scrubber pauses the animation on the first frame
    assert page.locator("#label-play").get_attribute("aria-pressed") == "false"
    assert readout(page) == "shift −6.00"
    for _ in range(4):  # arrows on the scrubber step frames (0.75 each), they do not change the direction
        page.keyboard.press("ArrowRight")
    assert readout(page) == "shift −3.00"
    assert scrubber.get_attribute("aria-valuetext") == "shift −3.00"
    assert parse_qs(urlparse(page.url).query)["dir"] == ["1"]
    expected = api_image(server, "tiny-vae", seed=3, set="random", shift="1:-3", window=NARROW_WINDOW)
    assert_same_image(canvas_gray(bench.tab, 0, GRID), expected)
    page.locator("#label-terms [data-term=lung_volume]").click()  # for the screenshot: a term, its sign, the keys
    page.locator("#label-sign-pos").check()
    bench.tab.screenshot("label-workbench")
    scrubber.focus()
    frame = readout(page)
    page.keyboard.press(" ")  # Space on the scrubber plays again
    assert page.locator("#label-play").get_attribute("aria-pressed") == "true"
    page.wait_for_function("(frame) => document.querySelector('#label-shift').textContent !== frame", arg=frame)
    assert bench.tab.console.errors == []


def test_the_sign_is_asked_with_the_terms_positive_sense(bench: Workbench) -> None:
    page = bench.page
    sign_in(bench, "model=tiny-gan&set=sefa&dir=0")
    sign = page.locator("#label-sign")
    assert sign.is_hidden()  # no term chosen yet
    page.keyboard.press("2")  # breast size: "larger"
    assert sign.is_visible()
    assert "breast size" in page.locator("#label-sign legend").text_content()
    positive = page.locator("#label-sign-pos-text").inner_text()
    assert positive and positive != page.locator("#label-sign-neg-text").inner_text()
    if positive == "larger":
        assert page.locator("#label-sign-neg-text").inner_text() == "smaller"
    page.keyboard.press("1")  # rotation
    assert "counter-clockwise" in page.locator("#label-sign-neg-text").inner_text() or not bench.server_has_senses
    page.keyboard.press("w")  # artefact (the 12th term): no sense, no sign
    assert page.locator("#label-terms [data-term=artefact]").get_attribute("aria-checked") == "true"
    assert sign.is_hidden()

    page.keyboard.press("2")
    page.locator("#label-save").click()  # the sign must be answered for a term with a sense
    page.wait_for_function("() => document.querySelector('#messages').textContent.includes('which way a positive shift')")
    assert bench.posted == []
    page.keyboard.press("-")
    assert page.locator("#label-sign-neg").is_checked()
    page.locator("#label-save").click()
    wait_query(bench.tab, "dir", "1")
    assert bench.posted[-1]["term"] == "breast_size" and bench.posted[-1]["sign"] == -1
    if bench.server_has_senses:
        assert bench.stored_labels()[-1]["sign"] == -1
    page.keyboard.press("ArrowLeft")  # the saved sign comes back with the label
    wait_query(bench.tab, "dir", "0")
    assert page.locator("#label-sign-neg").is_checked()


# ---- 2. window, seeds and range, recorded with the label --------------------------------------------------------------


def test_window_seed_and_range_controls_and_the_label_records_them(bench: Workbench) -> None:
    page = bench.page
    sign_in(bench, "model=tiny-gan&set=sefa&dir=2")
    assert page.locator("#label-windows [data-window=mediastinum]").get_attribute("aria-pressed") == "true"
    assert bench.traversals and all(q["window"] == ["mediastinum"] for q in bench.traversals)

    page.locator("#label-windows [data-window=bone]").click()
    wait_query(bench.tab, "window", "bone")
    page.wait_for_selector(f"{GRID}[data-ready]")
    assert bench.traversals[-1]["window"] == ["bone"]
    page.locator("#label-seed").fill("7")
    page.locator("#label-seed").press("Tab")
    wait_query(bench.tab, "seed", "7")
    page.locator("#label-extent").select_option("10")
    wait_query(bench.tab, "extent", "10")
    page.wait_for_selector(f"{GRID}[data-ready]")
    assert page.locator(f"{GRID} figcaption").all_inner_texts() == ["Seed 7", "Seed 8", "Seed 9", "Seed 10"]
    assert bench.traversals[-1]["extent"] == ["10"] and bench.traversals[-1]["direction"] == ["2"]
    page.locator("#label-scrubber").focus()
    page.keyboard.press("End")
    assert readout(page) == "shift +10.00"

    page.locator("#label-terms [data-term=no_change]").click()
    page.locator("#label-save").click()
    page.wait_for_function("() => document.querySelector('#label-progress').textContent.startsWith('1 of')")
    context = {"window": "bone", "seeds": [7, 8, 9, 10], "extent": 10, "steps": 17}
    assert bench.posted[-1]["context"] == context
    if bench.server_has_senses:
        assert bench.stored_labels()[-1]["context"] == context
    assert bench.tab.console.errors == []


# ---- 3. others so far: without your own label, ties named -------------------------------------------------------------


def test_others_so_far_leaves_out_your_own_label_and_names_a_tie(bench: Workbench, server: Server) -> None:
    other = server.add_annotator("Dr Other")
    body: dict[str, Any] = {"model": "tiny-gan", "set": "sefa", "direction": 3, "term": "rotation", "confidence": 4}
    body["blinded"] = True
    if bench.server_has_senses:
        body["sign"] = 1
    assert server.api("POST", "/labels", token=other["token"], json=body).status_code == 201

    def tie_on_direction_1(route: Any) -> None:  # the server's way of saying "tie", on d1 (no one labels it here)
        response = route.fetch()
        data = response.json()
        for direction in data["directions"]:
            if direction["index"] == 1:
                tied = [{"term": "rotation", "sign": None}, {"term": "heart_size", "sign": None}]
                direction["consensus"] = {"term": None, "sign": None, "share": 0.5, "n_labels": 2, "tie": tied,
                                          "consensus_terms": ["rotation", "heart_size"]}
        route.fulfill(response=response, json=data)

    bench.page.route(lambda url: urlparse(url).path == "/api/models/tiny-gan/directions/sefa", tie_on_direction_1)
    page = bench.page
    sign_in(bench, "model=tiny-gan&set=sefa&dir=3")
    page.keyboard.press("1")  # rotation, the same as the other annotator, labelled blinded
    page.keyboard.press("+")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.querySelector('#label-progress').textContent.startsWith('1 of')")
    page.locator("#label-unblind").check()
    wait_query(bench.tab, "dir", "3")  # the last direction: saving stays on it
    page.wait_for_function("() => document.querySelector('#label-others').textContent.includes('Others so far')")
    text = others(page)  # the other's label alone (the server's consensus counts both); with its sign where kept
    assert text.startswith("Others so far: In-plane rotation") and text.endswith(" — 1 of 1 other label."), text
    if bench.server_has_senses:
        assert "(positive shift: clockwise as displayed)" in text, text

    for _ in range(2):
        page.locator("body").press("ArrowLeft")
    wait_query(bench.tab, "dir", "1")
    assert others(page) == "Others so far: a tie between In-plane rotation and Heart size (1 each of 2 other labels)."
    assert bench.tab.console.errors == []


# ---- 6. keyboard labelling ----------------------------------------------------------------------------------------------


def test_labelling_by_keyboard_keeps_the_focus_on_the_terms(bench: Workbench) -> None:
    page = bench.page
    sign_in(bench, "model=tiny-gan&set=sefa&dir=0")
    page.wait_for_function("() => document.activeElement && document.activeElement.dataset.term === 'rotation'")
    help_text = page.locator("#label-keys").inner_text()
    assert page.locator("#label-keys").is_visible()
    for keys in ("1–9, 0, Q–T", "+ / −", "Shift+1 … 5", "Ctrl+Enter", "Space", "← / →"):
        assert keys in help_text, (keys, help_text)

    page.keyboard.press("8")  # lung volume
    page.keyboard.press("+")
    page.keyboard.press("Shift+Digit4")
    assert page.locator("#label-confidence input[value='4']").is_checked()
    page.locator("#label-polarity").fill("larger lungs")
    page.keyboard.press("Control+Enter")  # saved from the polarity field ...
    wait_query(bench.tab, "dir", "1")
    page.wait_for_function("() => document.activeElement.closest('#label-terms') !== null")
    page.keyboard.press("9")  # ... and the next term key chooses a term, it does not type into the field
    assert page.locator("#label-terms [data-term=heart_size]").get_attribute("aria-checked") == "true"
    assert page.locator("#label-polarity").input_value() == ""
    assert page.locator("#label-text").input_value() == ""
    sent = bench.posted[-1]
    assert (sent["term"], sent["confidence"], sent["polarity"], sent["sign"]) == ("lung_volume", 4, "larger lungs", 1)
    stored = bench.stored_labels()[-1]
    assert (stored["term"], stored["confidence"], stored["polarity"]) == ("lung_volume", 4, "larger lungs")
    assert bench.tab.console.errors == []


def test_the_others_line_and_the_opposite_sense_read_every_consensus_shape(tab: Tab) -> None:
    """The page's own words for the shapes a server may send (with `others`, with a signed tie, older servers)."""
    tab.open("?view=label")
    result = tab.page.evaluate(
        """async () => {
             const { othersText } = await import('/static/js/label/others.js');
             const { oppositeSense } = await import('/static/js/label/terms.js');
             const terms = [{ id: 'rotation', name: 'In-plane rotation', positive: 'clockwise as displayed' },
                            { id: 'heart_size', name: 'Heart size', positive: 'larger' },
                            { id: 'artefact', name: 'Artefact', positive: null }];
             const mine = { term: 'rotation', sign: 1 };
             return {
               serverLeftMineOut: othersText({ term: 'rotation', sign: 1, share: 1, n_labels: 2,
                 others: { term: 'heart_size', sign: -1, share: 1, n_labels: 1, tie: [], consensus_terms: ['heart_size'] },
               }, mine, terms),
               noOthers: othersText({ term: 'rotation', sign: 1, share: 1, n_labels: 1, others: null }, mine, terms),
               signedTie: othersText({ term: null, sign: null, share: 0.5, n_labels: 4,
                 tie: [{ term: 'rotation', sign: 1 }, { term: 'rotation', sign: -1 }], consensus_terms: ['rotation'],
               }, null, terms),
               olderServer: othersText({ term: 'rotation', share: 2 / 3, n_labels: 3 }, mine, terms),
               opposites: ['larger', 'clockwise as displayed', 'towards the feet', 'anterior', 'darker in the lungs']
                 .map(oppositeSense),
             };
           }"""
    )
    assert result["serverLeftMineOut"] == "Others so far: Heart size (positive shift: smaller) — 1 of 1 other label."
    assert result["noOthers"].startswith("No labels from others")
    assert result["signedTie"] == (
        "Others so far: a tie between In-plane rotation (positive shift: clockwise as displayed) and "
        "In-plane rotation (positive shift: counter-clockwise as displayed) (2 each of 4 other labels)."
    )
    assert result["olderServer"] == "Others so far: In-plane rotation — 1 of 2 other labels."
    assert result["opposites"] == ["smaller", "counter-clockwise as displayed", "towards the head", "posterior",
                                   "brighter in the lungs"]
    assert tab.console.errors == []


def test_the_workbench_fits_tablet_width(browser: Any, server: Server) -> None:
    annotator = server.add_annotator(f"Dr Roe {next(ANNOTATOR_NUMBERS)}")
    context = browser.new_context(viewport={"width": 768, "height": 1024})
    try:
        page = context.new_page()
        tablet = Tab(page=page, console=Console(), base_url=server.base_url)
        tablet.console.watch(page)
        tablet.open("?view=label&model=tiny-vae&set=random")
        page.locator("#signin-token").fill(annotator["token"])
        page.locator("#signin button[type=submit]").click()
        page.wait_for_selector(f"{GRID}[data-ready]")
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
        for selector in ("#label-scrubber", "#label-windows", "#label-keys"):
            assert page.locator(selector).is_visible(), selector
        tablet.screenshot("label-tablet")
        assert tablet.console.errors == []
    finally:
        context.close()
