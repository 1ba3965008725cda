"""Explore's "Encode a slice" in a real Chromium (issue 19, item 9): the uploaded original beside its reconstruction with
the error at the top, an elapsed-time indicator and Cancel while encoding, Play around an encoded latent, and 415s
in the server's words (no Python bytes)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from pydicom.uid import JPEGBaseline8Bit

from tests.e2e.conftest import Server, Tab
from tests.e2e.test_webapp import NARROW_WINDOW, canvas_gray, dicom_slice_bytes, wait_cells
from tests.hardening.dicom_bombs import _jpeg_header, _save

pytestmark = pytest.mark.browser

DICOM_FILE = {"name": "slice.dcm", "mimeType": "application/dicom", "buffer": dicom_slice_bytes()}


def element_gray(tab: Tab, selector: str) -> np.ndarray:
    """The red channel of a canvas found by `selector`, uint8 [H, W]."""
    data = tab.page.evaluate(
        """(selector) => {
             const c = document.querySelector(selector);
             const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
             return { w: c.width, h: c.height, gray: Array.from(d.filter((_, i) => i % 4 === 0)) };
           }""",
        selector,
    )
    return np.array(data["gray"], dtype=np.uint8).reshape(data["h"], data["w"])


def windowed(hu: np.ndarray, width: float, level: float) -> np.ndarray:
    """The server's window_to_uint8."""
    return np.clip(np.rint((hu - (level - width / 2)) * (255 / width)), 0, 255).astype(np.uint8)


def in_viewport(tab: Tab, selector: str) -> bool:
    return bool(
        tab.page.evaluate(
            """(selector) => {
                 const r = document.querySelector(selector).getBoundingClientRect();
                 return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0
                   && r.bottom <= window.innerHeight && r.right <= window.innerWidth;
               }""",
            selector,
        )
    )


def upload(tab: Tab, file: dict[str, Any]) -> None:
    tab.page.locator("#explore-upload").set_input_files(files=[file])


def test_original_reconstruction_and_error_are_shown_without_scrolling(tab: Tab, server: Server) -> None:
    tab.open(f"?view=explore&model=tiny-vae&set=random&window={NARROW_WINDOW}")
    wait_cells(tab, 6)
    upload(tab, DICOM_FILE)
    page = tab.page
    page.wait_for_selector("#explore-encode-result:not([hidden]) .encode-summary:not([hidden])")
    assert page.evaluate("() => window.scrollY") == 0
    for part in ("original", "reconstruction", "difference"):
        assert in_viewport(tab, f"#explore-encode-{part}"), part
    assert in_viewport(tab, "#explore-encode-error")

    answer = server.api(
        "POST", "/models/tiny-vae/encode", params={"images": "true"}, files={"file": ("slice.dcm", dicom_slice_bytes())}
    ).json()
    error_line = page.locator("#explore-encode-error").inner_text()
    assert f"{answer['reconstruction_mae_hu']:.1f} HU mean absolute reconstruction error" in error_line
    assert "research only, not for clinical use" in error_line
    size = answer["images"]["size"]
    original = np.array(answer["images"]["original_hu"], dtype=np.float64).reshape(size, size)
    reconstruction = np.array(answer["images"]["reconstruction_hu"], dtype=np.float64).reshape(size, size)
    width, level = (float(v) for v in NARROW_WINDOW.split(","))
    # the original is the uploaded disk as the server read it (water in air), not the model's image of it
    for part, hu in (("original", original), ("reconstruction", reconstruction)):
        shown = element_gray(tab, f"#explore-encode-{part}").astype(int)
        assert np.abs(shown - windowed(hu, width, level)).max() <= 1, part  # the page rounds halves up, numpy to even
    assert not np.array_equal(original, reconstruction)
    difference = element_gray(tab, "#explore-encode-difference")
    assert difference.shape == (size, size) and len(np.unique(difference)) > 1  # a map, not a blank square
    scale = float(page.locator(".encode-figure .diff-legend").get_attribute("data-scale"))
    assert scale >= np.quantile(np.abs(reconstruction - original), 0.98)  # the legend's ends hold 98 % of the pixels
    tab.screenshot("explore-encode-panel")
    assert tab.console.errors == []


def test_a_slow_encode_shows_elapsed_seconds_and_cancel_aborts_it(tab: Tab) -> None:
    tab.open("?view=explore&model=tiny-gan&set=random")
    wait_cells(tab, 6)
    page = tab.page
    held: list[Any] = []
    page.route("**/api/models/tiny-gan/encode*", lambda route: held.append(route))  # the answer never comes: slow
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url) if "/encode" in request.url else None)
    upload(tab, DICOM_FILE)
    page.wait_for_selector("#explore-encode-result:not([hidden]) .encode-progress:not([hidden])")
    page.wait_for_function("() => parseFloat(document.querySelector('#explore-encode-elapsed').textContent) >= 1.2")
    assert "Encoding slice.dcm with tiny-gan" in page.locator(".encode-progress").inner_text()
    assert in_viewport(tab, "#explore-encode-cancel")
    assert page.locator("#explore-upload").is_disabled()

    page.locator("#explore-encode-cancel").click()
    page.wait_for_selector("#explore-encode-result", state="hidden")
    deadline = time.monotonic() + 5
    while not failed and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert failed and "/api/models/tiny-gan/encode" in failed[0]  # the browser aborted the request
    assert "cancelled" in page.locator("#notices").inner_text()
    assert not page.locator("#explore-upload").is_disabled()
    assert page.evaluate("() => location.hash") == ""  # still on seeds
    assert page.locator("#messages .message").count() == 0  # a cancel is not an error
    assert tab.console.errors == []


def test_play_animates_around_an_encoded_latent(tab: Tab) -> None:
    tab.open(f"?view=explore&model=tiny-vae&set=random&window={NARROW_WINDOW}")
    wait_cells(tab, 6)
    upload(tab, DICOM_FILE)
    page = tab.page
    page.wait_for_function("() => location.hash.startsWith('#latent=')")
    wait_cells(tab, 1)
    play = page.locator("#explore-play")
    assert play.is_enabled()
    page.locator("#explore-slider-0").focus()
    play.click()
    page.wait_for_function("() => document.querySelector('#explore-grid canvas').dataset.source === 'play'")
    frames: set[bytes] = set()
    indices: set[str] = set()
    deadline = time.monotonic() + 10
    while (len(frames) < 4 or len(indices) < 4) and time.monotonic() < deadline:
        frames.add(canvas_gray(tab, 0).tobytes())
        indices.add(page.locator("#explore-grid canvas").first.get_attribute("data-play-frame") or "")
        page.wait_for_timeout(60)
    assert len(frames) >= 4 and len(indices) >= 4, (len(frames), indices)  # the frames change while playing
    assert play.get_attribute("aria-pressed") == "true"
    play.click()
    assert play.get_attribute("aria-pressed") == "false"
    assert tab.console.errors == []


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("notes.txt", b"this is not a CT slice", 'starts with the text "this is "'),
        ("jpeg.dcm", _save(_jpeg_header(), JPEGBaseline8Bit), "JPEG Baseline"),
    ],
)
def test_an_unsupported_upload_shows_the_servers_words_without_python_bytes(
    tab: Tab, name: str, data: bytes, words: str
) -> None:
    tab.open("?view=explore&model=tiny-vae&set=random")
    wait_cells(tab, 6)
    upload(tab, {"name": name, "mimeType": "application/octet-stream", "buffer": data})
    page = tab.page
    page.wait_for_function(f"() => document.querySelector('#messages').textContent.includes('Encoding {name} failed')")
    message = page.locator("#messages").inner_text()
    assert "Unsupported file type (415)" in message and words in message, message
    assert "DICOM" in message  # what is allowed
    assert "b'" not in message and "\\x" not in message, message
    page.wait_for_selector("#explore-encode-result", state="hidden")
