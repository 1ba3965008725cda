"""The clinicians' web app in a real Chromium against a real `latentct serve`: explore, label, review, compare."""

from __future__ import annotations

import io
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import Console, Server, Tab

pytestmark = pytest.mark.browser

INTENDED_USE_LINE = "Research only, not for clinical use"
NARROW_WINDOW = "60,590"  # W 60 HU around the tiny VAE's ~590 HU: small differences become visible


# ---- helpers ----------------------------------------------------------------------------------------------------


def wait_cells(tab: Tab, count: int, grid: str = "#explore-grid") -> None:
    """Wait until `count` canvases of the grid show a frame."""
    tab.page.wait_for_function(
        """([grid, count]) => {
             const canvases = [...document.querySelectorAll(`${grid} canvas`)];
             return canvases.length === count && canvases.every((c) => Number(c.dataset.frame) > 0);
           }""",
        arg=[grid, count],
    )


def canvas_gray(tab: Tab, index: int, grid: str = "#explore-grid") -> np.ndarray:
    """The gray values (red channel) of the index-th canvas of a grid, as uint8 [H, W]."""
    data = tab.page.evaluate(
        """([grid, index]) => {
             const canvas = document.querySelectorAll(`${grid} canvas`)[index];
             const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
             return { w: canvas.width, h: canvas.height, gray: Array.from(pixels.filter((_, i) => i % 4 === 0)) };
           }""",
        [grid, index],
    )
    return np.array(data["gray"], dtype=np.uint8).reshape(data["h"], data["w"])


def api_image(server: Server, model: str, **query: Any) -> np.ndarray:
    response = server.api("GET", f"/models/{model}/image.png", params=query)
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("L"))


def assert_same_image(shown: np.ndarray, expected: np.ndarray) -> None:
    """Canvas and API render agree (strip frames and single images may differ by rounding only)."""
    assert shown.shape == expected.shape
    difference = np.abs(shown.astype(int) - expected.astype(int))
    assert difference.mean() < 1.0 and difference.max() <= 8, (difference.mean(), difference.max())


def wait_for_image(tab: Tab, index: int, expected: np.ndarray, timeout_s: float = 15.0) -> np.ndarray:
    """Poll the canvas until it shows `expected` (within rounding); fail with the last difference."""
    deadline = time.monotonic() + timeout_s
    while True:
        shown = canvas_gray(tab, index)
        try:
            assert_same_image(shown, expected)
            return shown
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        tab.page.wait_for_timeout(100)


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


def wait_query(tab: Tab, key: str, value: str) -> None:
    tab.page.wait_for_function(
        "([key, value]) => new URLSearchParams(location.search).getAll(key).includes(value)", arg=[key, value]
    )


def no_horizontal_scroll(tab: Tab) -> bool:
    return bool(tab.page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1"))


def dicom_slice_bytes(size_px: int = 48) -> bytes:
    """A small CT-like DICOM slice (a water disk in air, HU = stored * 1 - 1024), written with pydicom."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    yy, xx = np.mgrid[0:size_px, 0:size_px] - size_px / 2
    hu = np.where(xx**2 + yy**2 < (size_px * 0.35) ** 2, 40, -1000).astype(np.int16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset("slice.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.SOPClassUID, dataset.SOPInstanceUID, dataset.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, "CT"
    dataset.Rows = dataset.Columns = size_px
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 0
    dataset.RescaleSlope, dataset.RescaleIntercept = 1, -1024
    dataset.PixelData = (hu.astype(np.int32) + 1024).astype(np.uint16).tobytes()
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


# ---- explore ------------------------------------------------------------------------------------------------------


def test_page_loads_without_console_errors_and_is_labelled(tab: Tab) -> None:
    tab.open()
    wait_cells(tab, 6)
    page = tab.page
    assert page.get_by_text(INTENDED_USE_LINE).first.is_visible()
    state = query_of(page.url)
    assert state["view"] == ["explore"] and state["model"] == ["tiny-gan"] and state["set"] == ["random"]
    sliders = page.locator("#explore-sliders input[type=range]")
    assert sliders.count() == 4
    for i in range(4):
        assert sliders.nth(i).get_attribute("aria-label").startswith(f"Direction {i} shift")
        assert sliders.nth(i).get_attribute("aria-valuetext")
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('button')]
                 .filter((b) => b.offsetParent && !(b.getAttribute('aria-label') || b.textContent.trim())).length"""
    )
    assert unnamed == 0
    reached = []  # the Tab key alone reaches the sliders, each focus drawn as a visible ring
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => [document.activeElement.id, getComputedStyle(document.activeElement).outlineStyle]")
        reached.append(focused[0])
        assert focused[1] != "none", f"no visible focus on #{focused[0]}"
        if focused[0] == "explore-slider-0":
            break
    assert reached[-1] == "explore-slider-0", reached
    tab.screenshot("explore")
    assert tab.console.errors == []


def test_moving_a_slider_changes_the_image_and_scrubs_from_the_strip(tab: Tab, server: Server) -> None:
    # the tiny VAE's slices span ~40 HU around 590 HU: a narrow window makes every shift visible
    tab.open(f"?view=explore&model=tiny-vae&set=random&seed=3&n=4&window={NARROW_WINDOW}")
    wait_cells(tab, 4)
    page = tab.page
    before = canvas_gray(tab, 0)
    assert_same_image(before, api_image(server, "tiny-vae", seed=3, window=NARROW_WINDOW))

    page.locator("#explore-slider-1").focus()  # focusing a slider fetches its strips
    page.wait_for_selector("#explore-grid[data-strips-ready='1']")
    for _ in range(8):  # 8 steps of 12/32 = +3
        page.keyboard.press("ArrowRight")
    wait_query(tab, "shift", "1:3")
    assert page.locator("#explore-grid canvas").first.get_attribute("data-source") == "strip"
    after = canvas_gray(tab, 0)
    assert not np.array_equal(before, after)
    assert_same_image(after, api_image(server, "tiny-vae", seed=3, set="random", shift="1:3", window=NARROW_WINDOW))
    assert page.locator("#explore-slider-1").get_attribute("aria-valuetext").startswith("+3.00")

    # a second direction combines with the first
    page.locator("#explore-slider-2").focus()
    page.wait_for_selector("#explore-grid[data-strips-ready='2']")
    for _ in range(4):
        page.keyboard.press("ArrowLeft")
    wait_query(tab, "shift", "2:-1.5")
    page.wait_for_function("() => document.querySelector('#explore-grid canvas').dataset.source === 'strip'")
    expected = api_image(server, "tiny-vae", seed=4, set="random", shift=["1:3", "2:-1.5"], window=NARROW_WINDOW)
    assert_same_image(canvas_gray(tab, 1), expected)
    tab.screenshot("explore-shifted")
    assert tab.console.errors == []


def test_number_keys_switch_hu_windows_but_not_while_typing(server: Server, tab: Tab) -> None:
    tab.open("?view=explore&model=tiny-vae&set=random&seed=5&n=1")
    wait_cells(tab, 1)
    page = tab.page
    wait_query(tab, "window", "mediastinum")  # opens in a readable soft-tissue window, not the low-contrast full range
    opened = canvas_gray(tab, 0)
    assert_same_image(opened, api_image(server, "tiny-vae", seed=5, window="mediastinum"))
    for key, window in (("1", "lung"), ("3", "bone"), ("4", "full"), ("2", "mediastinum")):
        frame = page.locator("#explore-grid canvas").first.get_attribute("data-frame")
        page.keyboard.press(key)
        wait_query(tab, "window", window)
        assert page.locator(f"#explore-windows [data-window={window}]").get_attribute("aria-pressed") == "true"
        page.wait_for_function(f"() => document.querySelector('#explore-grid canvas').dataset.frame !== '{frame}'")
        if window == "full":  # the tiny VAE's ~590 HU are white in the mediastinum window, mid-gray in the full range
            assert not np.array_equal(canvas_gray(tab, 0), opened)
    page.locator("#explore-seed").fill("")
    page.locator("#explore-seed").press("1")  # typing a seed is not a shortcut
    assert query_of(page.url)["window"] == ["mediastinum"]

    page.locator("#explore-window-w").fill("400")
    page.locator("#explore-window-l").fill("40")
    page.locator("#explore-window-custom button[type=submit]").click()
    wait_query(tab, "window", "400,40")
    assert tab.console.errors == []


def test_a_shared_url_restores_the_view(tab: Tab, browser: Any) -> None:
    tab.open("?view=explore")
    wait_cells(tab, 6)
    page = tab.page
    page.locator("#explore-model").select_option("tiny-vae")
    wait_query(tab, "model", "tiny-vae")
    page.locator("#explore-samples").select_option("4")
    page.locator("#explore-seed").fill("11")
    page.locator("#explore-seed").press("Tab")
    wait_query(tab, "seed", "11")
    page.locator("#explore-slider-0").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    wait_query(tab, "shift", "0:1.125")
    page.keyboard.press("3")
    wait_query(tab, "window", "bone")
    page.locator("#explore-window-w").fill("60")
    page.locator("#explore-window-l").fill("590")
    page.locator("#explore-window-l").press("Enter")
    wait_query(tab, "window", NARROW_WINDOW)
    page.wait_for_function("() => new URLSearchParams(location.search).get('focus') === '0'")
    wait_cells(tab, 4)
    page.wait_for_selector("#explore-grid[data-strips-ready='0']")
    all_from_strips = "() => [...document.querySelectorAll('#explore-grid canvas')].every((c) => c.dataset.source === 'strip')"
    page.wait_for_function(all_from_strips)
    shared_url = page.url
    original = [canvas_gray(tab, i) for i in range(4)]

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        other = context.new_page()
        other.goto(shared_url)
        other.wait_for_selector("body[data-ready]")
        reopened = Tab(page=other, console=tab.console, base_url=tab.base_url)
        wait_cells(reopened, 4)
        other.wait_for_selector("#explore-grid[data-strips-ready='0']")
        assert other.locator("#explore-model").input_value() == "tiny-vae"
        assert other.locator("#explore-set").input_value() == "random"
        assert other.locator("#explore-seed").input_value() == "11"
        assert other.locator("#explore-slider-0").input_value() == "1.125"
        assert other.locator("#explore-window-w").input_value() == "60"
        assert other.locator("#explore-window-l").input_value() == "590"
        for i in range(4):
            assert_same_image(canvas_gray(reopened, i), original[i])
        assert other.url == shared_url
    finally:
        context.close()
    assert tab.console.errors == []


def test_an_uploaded_dicom_slice_is_explored_around_its_encoding(tab: Tab, server: Server, browser: Any) -> None:
    tab.open(f"?view=explore&model=tiny-vae&set=random&window={NARROW_WINDOW}")
    wait_cells(tab, 6)
    page = tab.page
    page.locator("#explore-upload").set_input_files(
        files=[{"name": "slice.dcm", "mimeType": "application/dicom", "buffer": dicom_slice_bytes()}]
    )
    page.wait_for_selector("#explore-encoded:not([hidden])")
    assert "slice.dcm: encoded by encoder" in page.locator("#explore-encoded-text").inner_text()
    wait_cells(tab, 1)
    page.wait_for_function("() => location.hash.startsWith('#latent=')")
    before = canvas_gray(tab, 0)

    page.locator("#explore-slider-0").focus()
    for _ in range(8):
        page.keyboard.press("ArrowRight")
    wait_query(tab, "shift", "0:3")
    page.wait_for_function("() => document.querySelector('#explore-grid canvas').dataset.source === 'render'")
    encoded = server.api("POST", "/models/tiny-vae/encode", files={"file": ("slice.dcm", dicom_slice_bytes())}).json()
    body = {"latent": encoded["latent"], "set": "random", "shifts": {"0": 3}, "window": NARROW_WINDOW}
    rendered = server.api("POST", "/models/tiny-vae/render", json=body)
    assert rendered.status_code == 200, rendered.text
    expected = np.asarray(Image.open(io.BytesIO(rendered.content)).convert("L"))
    after = wait_for_image(tab, 0, expected)  # renders are latest-wins: an older one may show first
    assert not np.array_equal(before, after)
    tab.screenshot("explore-encoded")

    context = browser.new_context(viewport={"width": 1280, "height": 800})  # the link carries the latent
    try:
        other = context.new_page()
        other.goto(page.url)
        other.wait_for_selector("body[data-ready]")
        reopened = Tab(page=other, console=tab.console, base_url=tab.base_url)
        wait_cells(reopened, 1)
        wait_for_image(reopened, 0, expected)
    finally:
        context.close()
    assert tab.console.errors == []


def test_api_errors_are_shown_in_words(tab: Tab) -> None:
    tab.open("?view=explore&model=no-such-model")
    page = tab.page
    page.wait_for_selector("#messages .message")
    assert 'model "no-such-model" is not served here' in page.locator("#messages").inner_text()
    wait_cells(tab, 6)
    page.locator("#explore-upload").set_input_files(
        files=[{"name": "not-a-slice.dcm", "mimeType": "application/dicom", "buffer": b"this is not DICOM"}]
    )
    page.wait_for_function("() => document.querySelector('#messages').textContent.includes('Encoding not-a-slice.dcm failed')")
    message = page.locator("#messages").inner_text()
    assert re.search(r"\((400|413|415|422)\)", message), message
    tab.screenshot("explore-error")


@pytest.mark.parametrize(("width", "height", "scale", "name"), [(768, 1024, 1, "tablet"), (640, 400, 2, "zoom-200")])
def test_layout_fits_tablet_width_and_200_percent_zoom(
    browser: Any, server: Server, width: int, height: int, scale: int, name: str
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale)
    try:
        page = context.new_page()
        tab = Tab(page=page, console=Console(), base_url=server.base_url)
        for view in ("explore", "review"):
            tab.open(f"?view={view}&model=tiny-gan&set=random&n=4")
            if view == "explore":
                wait_cells(tab, 4)
            else:
                page.wait_for_selector("#review-table tbody tr[data-direction]")
            assert no_horizontal_scroll(tab), f"{view} scrolls sideways at {width} px"
            assert page.get_by_text(INTENDED_USE_LINE).first.is_visible()
            tab.screenshot(f"{view}-{name}")
    finally:
        context.close()


# ---- label ----------------------------------------------------------------------------------------------------------


def test_label_through_the_ui_is_stored_and_arrows_walk_directions(tab: Tab, server: Server) -> None:
    annotator = server.add_annotator("Dr Test")
    page = tab.page
    tab.open(f"?view=label&model=tiny-vae&set=random&window={NARROW_WINDOW}")
    page.locator("#signin-token").fill(annotator["token"])
    page.locator("#signin button[type=submit]").click()
    page.wait_for_selector("#label-grid[data-ready]")
    assert annotator["token"] not in page.url
    assert page.evaluate("() => sessionStorage.getItem('latentct.annotatorToken')") == annotator["token"]
    assert page.locator("#label-progress").inner_text() == "0 of 4 labelled"
    assert "blinded" in page.locator("#label-others").inner_text()
    tab.screenshot("label")

    page.locator("body").press("8")  # the 8th term of the default vocabulary: lung volume
    assert page.locator("#label-terms [data-term=lung_volume]").get_attribute("aria-checked") == "true"
    if page.locator("#label-sign").is_visible():  # a term with a positive sense asks for the sign
        page.locator("body").press("+")
    page.locator("#label-text").fill("lungs expand towards the positive end")
    page.locator("#label-confidence input[value='4']").check()
    page.locator("#label-polarity").fill("larger lungs")
    page.locator("#label-save").click()
    page.wait_for_function("() => document.querySelector('#label-progress').textContent === '1 of 4 labelled'")
    wait_query(tab, "dir", "1")  # saving moves on to the next unlabelled direction

    response = server.api("GET", "/labels", token=server.admin_token, params={"annotator": annotator["id"]})
    assert response.status_code == 200
    labels = response.json()
    assert len(labels) == 1
    label = labels[0]
    assert (label["model"], label["set"], label["direction"], label["term"]) == ("tiny-vae", "random", 0, "lung_volume")
    assert (label["confidence"], label["polarity"], label["blinded"]) == (4, "larger lungs", True)
    assert label["text"] == "lungs expand towards the positive end"

    page.locator("body").press("ArrowLeft")
    wait_query(tab, "dir", "0")
    assert "Your current label: Lung volume" in page.locator("#label-own").inner_text()
    assert page.locator("#label-terms [data-term=lung_volume]").get_attribute("aria-checked") == "true"
    page.locator("body").press("ArrowRight")
    page.locator("body").press("ArrowRight")
    wait_query(tab, "dir", "2")
    assert page.locator("#label-position").inner_text().startswith("Direction d2")
    assert tab.console.errors == []


def test_a_bad_token_is_refused_in_words(tab: Tab) -> None:
    tab.open("?view=label")
    tab.page.locator("#signin-token").fill("not-a-real-token")
    tab.page.locator("#signin button[type=submit]").click()
    tab.page.wait_for_selector("#messages .message")
    assert "(401)" in tab.page.locator("#messages").inner_text()
    assert tab.page.evaluate("() => sessionStorage.getItem('latentct.annotatorToken')") is None
    assert tab.page.locator("#label-main").is_hidden()


# ---- review and compare ----------------------------------------------------------------------------------------------


def test_review_shows_consensus_kappa_and_strips(tab: Tab, server: Server) -> None:
    votes = {0: ["lung_volume"] * 3, 1: ["rotation", "rotation", "body_size"], 2: ["heart_size", "noise_texture", "heart_size"]}
    for i in range(3):
        token = server.add_annotator(f"reviewer {i}")["token"]
        for direction, terms in votes.items():
            body = {"model": "tiny-vae", "set": "random", "direction": direction, "term": terms[i], "confidence": 3}
            assert server.api("POST", "/labels", token=token, json=body).status_code == 201
    page = tab.page
    tab.open(f"?view=review&model=tiny-vae&set=random&window={NARROW_WINDOW}")  # signed out: strips, no labels
    page.wait_for_selector("#review-table tbody tr[data-direction='3']")
    assert "sign in to see" in page.locator("#review-table tbody tr[data-direction='0']").inner_text()
    assert "sign in on the Label tab" in page.locator("#review-stats").inner_text()
    admin = server.add_annotator("review admin", role="admin")["token"]  # agreement needs a token (issue 19)
    page.evaluate("(token) => sessionStorage.setItem('latentct.annotatorToken', token)", admin)
    # the label test may have added one more "lung volume" on d0: shares below hold either way
    tab.open(f"?view=review&model=tiny-vae&set=random&window={NARROW_WINDOW}")
    page.wait_for_selector("#review-table tbody tr[data-direction='3']")
    page.wait_for_function("() => document.querySelector('#review-stats').textContent.includes('κ')")
    # other tests of this module label the same set (d0 may hold more lung volume labels): the page must show what
    # the server's agreement says, whose votes above make lung volume d0's consensus and rotation d1's
    agreement = server.api("GET", "/models/tiny-vae/directions/random/agreement", token=admin).json()["directions"]
    share = {d["index"]: f"{round(d['share'] * 100)}%" for d in agreement if d["share"] is not None}
    assert [d["consensus_term"] for d in agreement[:2]] == ["lung_volume", "rotation"]
    row0 = page.locator("#review-table tbody tr[data-direction='0']")
    assert "Lung volume / inspiration" in row0.inner_text() and share[0] in row0.inner_text()
    assert share[1] in page.locator("#review-table tbody tr[data-direction='1']").inner_text()
    stats = page.locator("#review-stats").inner_text()
    assert re.search(r"Fleiss' κ\s*-?\d\.\d{3}", stats), stats
    assert re.search(r"Krippendorff's α\s*-?\d\.\d{3}", stats), stats
    page.wait_for_function(
        "() => [...document.querySelectorAll('#review-table img.strip')].every((i) => i.complete && i.naturalWidth > 0)"
    )
    tab.screenshot("review")

    admin = server.add_annotator("explore admin", role="admin")["token"]  # Explore blinds the consensus (issue 19)
    page.evaluate("(token) => sessionStorage.setItem('latentct.annotatorToken', token)", admin)
    tab.open(f"?view=explore&model=tiny-vae&set=random&n=4&window={NARROW_WINDOW}")  # an admin sees it on the slider
    page.wait_for_selector("#explore-sliders .slider-row[data-direction='0'] .consensus:not(.none)")
    slider_row = page.locator("#explore-sliders .slider-row[data-direction='0']")
    assert f"Lung volume / inspiration · {share[0]} of " in slider_row.inner_text()
    assert tab.console.errors == []


def test_review_shows_the_scorecard_with_the_current_set_marked(tab: Tab) -> None:
    page = tab.page
    tab.open("?view=review&model=tiny-gan&set=sefa")
    page.wait_for_selector("#review-scorecard tbody tr[data-set='sefa'].current")
    header = page.locator("#review-scorecard thead").inner_text()
    assert "brightness" in header and "Found" in header  # the tiny probe's factors stand in for the paper's
    row = page.locator("#review-scorecard tbody tr[data-set='random']").inner_text()
    assert re.search(r"\d of 2", row) and re.search(r"d\d · \d+\.\d sd · \d+%", row), row
    assert "natural sd" in page.locator("#review-scorecard-rule").inner_text()
    tab.open("?view=review&model=tiny-vae&set=random")  # a model without a scorecard says so
    page.wait_for_selector("#review-scorecard tbody td.empty")
    assert "No scorecard" in page.locator("#review-scorecard").inner_text()
    assert tab.console.errors == [], tab.console.errors


def test_compare_view_shows_heatmap_or_says_it_needs_server_support(tab: Tab) -> None:
    page = tab.page
    tab.open("?view=compare&model=tiny-gan&set=random&set2=random")
    page.wait_for_selector("#compare-body .heatmap, #compare-body [data-needs=server-support]")
    if page.locator("#compare-body .heatmap").count():
        cells = "#compare-body .heatmap tbody tr:nth-child({row}) td:nth-of-type({row})"
        diagonal = [page.locator(cells.format(row=i + 1)).inner_text() for i in range(4)]
        assert diagonal == ["1.00"] * 4
        assert page.locator("#compare-body .match").count() == 4
    else:
        assert "/vectors" in page.locator("#compare-body").inner_text()
    tab.screenshot("compare")


def test_set_pickers_name_a_partly_trained_set_by_the_share_it_ran(tab: Tab) -> None:
    """The pickers' label, as the page's own module computes it from ModelInfo entries: a set stopped by its time
    budget says how much of its schedule it ran; finished, closed-form and reference sets read as before."""
    tab.open()
    labels = tab.page.evaluate(
        """async () => {
             const { Catalog } = await import('/static/js/catalog.js');
             return [
               { id: 'voynov-original', method: 'voynov', count: 32, trained: 0.03455 },
               { id: 'tiny', method: 'voynov', count: 8, trained: 0.004 },
               { id: 'voynov-paper', method: 'voynov', count: 100, trained: 1 },
               { id: 'sefa', method: 'sefa', count: 32, trained: null },
               { id: 'supervised', method: 'supervised', count: 8 },
             ].map((set) => Catalog.setLabel(set));
           }"""
    )
    assert labels == ["voynov-original · voynov · 32 · 3% trained", "tiny · voynov · 8 · <1% trained",
                      "voynov-paper · voynov · 100", "sefa · sefa · 32", "supervised · supervised reference · 8"]
    assert not tab.console.errors, tab.console.errors
