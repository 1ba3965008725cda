"""The Volume view (issue 20) in real Chromium against a real server with tiny models: one NIfTI resliced in the browser
into three linked reformats, the crosshair and level slider, the HU readout, windows, the address, the real phantom
patient beside it, export links and a readable 422."""

from __future__ import annotations

import gzip

import httpx
import pytest

from tests.e2e.conftest import Server, Tab

pytestmark = pytest.mark.browser

QUERY = "?view=volume&model=tiny-gan&set=random&vdir=1&slices=16&window=full"  # the tiny models span few HU
PLANES = ("axial", "coronal", "sagittal")

# Per canvas: its size and the spread of its grey values (0 for a blank or one-colour canvas).
CANVAS_STATS_JS = """
(row) => [...document.querySelectorAll(`canvas.volume-plane[data-row=${row}]`)].map((c) => {
  const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let lo = 255, hi = 0, sum = 0;
  for (let i = 0; i < data.length; i += 4) { lo = Math.min(lo, data[i]); hi = Math.max(hi, data[i]); sum += data[i]; }
  return { plane: c.dataset.plane, width: c.width, height: c.height, spread: hi - lo, sum };
})
"""


def open_volume(tab: Tab, query: str = QUERY) -> None:
    tab.open(query)
    tab.page.wait_for_selector("section[data-view=volume][data-state=ready][data-reference=ready]", timeout=60_000)


def stats(tab: Tab, row: str = "generated") -> list[dict[str, int]]:
    return list(tab.page.evaluate(CANVAS_STATS_JS, row))


def test_three_reformats_and_the_real_phantom_are_drawn_from_one_volume(tab: Tab) -> None:
    requests: list[str] = []
    tab.page.on("request", lambda r: requests.append(r.url) if "/volume" in r.url else None)
    open_volume(tab)
    page = tab.page
    for row in ("generated", "reference"):
        drawn = stats(tab, row)
        assert [c["plane"] for c in drawn] == list(PLANES)
        assert all(c["width"] > 1 and c["height"] > 1 and c["spread"] > 20 for c in drawn), drawn
    assert page.locator("[data-row=reference] h2").text_content().startswith("Real phantom patient 0 (")
    assert "Synthetic volume, research only, not for clinical use" in page.locator("section[data-view=volume]").inner_text()
    assert "d1 (chosen here)" in page.locator("#volume-direction-source").inner_text()
    labels = page.locator("[data-row=generated] .orient").all_inner_texts()  # per plane: left, right, top, bottom
    assert labels == ["R", "L", "A", "P", "R", "L", "S", "I", "A", "P", "S", "I"]
    nifti = [u for u in requests if "format=nii.gz" in u]
    assert len(nifti) == 2 and sum("reference=phantom" in u for u in nifti) == 1  # one NIfTI per row, no more
    tab.screenshot("volume-view")
    assert tab.console.errors == []


def test_clicking_the_coronal_plane_moves_the_level_and_reads_hu(tab: Tab) -> None:
    open_volume(tab)
    page = tab.page
    level = page.locator("#volume-level")
    before = level.input_value()
    assert before == "8"  # the middle of 16 slices
    coronal = page.locator("canvas[data-row=generated][data-plane=coronal]")
    box = coronal.bounding_box()
    assert box is not None
    axial_before = stats(tab)[0]["sum"]
    coronal.click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.1})
    assert level.input_value() == "1"  # a tenth of the way down 16 slices: slice 1
    assert stats(tab)[0]["sum"] != axial_before  # the axial plane now shows slice 1
    assert "Slice 1 of 15" in page.locator("#volume-level-text").inner_text()
    assert "shift −" in page.locator("#volume-level-text").inner_text()  # slice 1 of a -6..+6 walk
    page.locator("canvas[data-row=generated][data-plane=axial]").hover(position={"x": 20, "y": 30})
    readout = page.locator("#volume-hu").inner_text()
    assert readout.startswith("HU ") and readout.split()[1].lstrip("-").isdigit() and "(generated)" in readout
    page.wait_for_function("() => new URLSearchParams(location.search).get('at')?.startsWith('1,')")
    assert tab.console.errors == []


def test_a_window_preset_changes_the_pixels(tab: Tab) -> None:
    open_volume(tab)
    before = [c["sum"] for c in stats(tab)]
    tab.page.locator("#volume-windows [data-window=lung]").click()
    tab.page.wait_for_function("() => new URLSearchParams(location.search).get('window') === 'lung'")
    assert [c["sum"] for c in stats(tab)] != before
    tab.page.keyboard.press("3")  # bone, as in Explore
    assert tab.page.locator("#volume-windows [data-window=bone]").get_attribute("aria-pressed") == "true"


def test_the_address_reproduces_the_view_after_reload(tab: Tab) -> None:
    open_volume(tab, QUERY + "&path=straight")
    page = tab.page
    page.locator("canvas[data-row=generated][data-plane=sagittal]").click(position={"x": 10, "y": 5})
    page.wait_for_function("() => new URLSearchParams(location.search).get('at') !== null")
    shown = (page.locator("#volume-level").input_value(), stats(tab), stats(tab, "reference"))
    url = page.url
    assert "vdir=1" in url and "slices=16" in url and "path=straight" in url
    open_volume(tab, url[len(tab.base_url) + 1 :])
    assert page.url == url
    assert (page.locator("#volume-level").input_value(), stats(tab), stats(tab, "reference")) == shown
    assert page.locator("#volume-direction").input_value() == "1" and page.locator("#volume-slices").input_value() == "16"


def test_export_links_download_the_current_volume(tab: Tab, server: Server) -> None:
    open_volume(tab)
    nifti = tab.page.locator("#volume-export-nifti").get_attribute("href")
    dicom = tab.page.locator("#volume-export-dicom").get_attribute("href")
    assert nifti and "direction=1" in nifti and "slices=16" in nifti and "format=nii.gz" in nifti
    assert dicom and "format=dicom-zip" in dicom
    response = httpx.get(f"{server.base_url}{nifti}", timeout=60)
    assert response.status_code == 200 and len(gzip.decompress(response.content)) > 16 * 32 * 32 * 2


def test_a_set_without_a_slice_level_direction_says_so_and_a_direction_recovers(tab: Tab) -> None:
    tab.open("?view=volume&model=tiny-vae&set=random&window=full")  # no consensus, no scorecard: no server's choice
    page = tab.page
    page.wait_for_selector("section[data-view=volume][data-state=error]", timeout=60_000)
    message = page.locator("#volume-status").inner_text()
    assert "set 'random' has no slice-level direction" in message and "Pick a direction in the Direction menu" in message
    assert page.locator("#volume-status").get_attribute("role") == "alert"
    page.locator("#volume-direction").select_option("2")
    page.wait_for_selector("section[data-view=volume][data-state=ready]", timeout=60_000)
    assert all(c["spread"] > 0 for c in stats(tab))
    assert tab.console.errors == []  # asking for the server's choice is not an error


def test_a_422_shows_a_readable_message(tab: Tab) -> None:
    tab.open(QUERY + "&path=locked")  # the tiny server has no probe, so the locked path is refused
    page = tab.page
    page.wait_for_selector("section[data-view=volume][data-state=error]", timeout=60_000)
    message = page.locator("#volume-status").inner_text()
    assert "Invalid input (422)" in message and "path 'locked' needs the phantom probe" in message
    assert "Choose the straight path" in message
    assert page.locator("canvas[data-row=generated][data-plane=axial]").evaluate("(c) => c.width") == 1  # nothing stale


def test_another_set_drops_the_direction_index(tab: Tab) -> None:
    open_volume(tab)
    page = tab.page
    page.locator("#volume-set").select_option("sefa")
    page.wait_for_function("() => new URLSearchParams(location.search).get('set') === 'sefa'")
    assert page.locator("#volume-direction").input_value() == "auto"
    page.wait_for_selector("section[data-view=volume][data-state=error]", timeout=60_000)  # sefa: no server's choice
    assert "set 'sefa' has no slice-level direction" in page.locator("#volume-status").inner_text()
    page.wait_for_function("() => !new URLSearchParams(location.search).has('vdir')")  # the address follows
    assert tab.console.errors == []
