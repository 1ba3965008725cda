"""Explore's viewer tools in a real Chromium (issue 19, item 11): window/level by right-drag, wheel zoom and drag pan
with a reset, HU under the pointer, orientation markers, a scale bar in mm, and the unshifted image beside the
shifted one with their difference.

The server here serves the tiny models with tiny-vae's card saying it was trained on the phantom (so it has a pixel
spacing) and tiny-gan's saying nothing (so it has none)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from latentct.artifacts import load_model
from latentct.core.hu import unit_to_hu
from latentct.core.latents import latent_from_seed
from latentct.rendering.volumes import pixel_spacing_mm
from tests.e2e.conftest import Server, Tab, webapp_server
from tests.e2e.test_webapp import api_image, canvas_gray, query_of, wait_cells, wait_for_image, wait_query
from tests.factories import make_tiny_models_dir

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = make_tiny_models_dir(tmp_path_factory.mktemp("viewer-tools") / "models")
    card_path = models / "tiny-vae" / "model.json"
    card = json.loads(card_path.read_text())
    card["data"] = {"source": "phantom", "image_size": card["image_size"]}
    card_path.write_text(json.dumps(card))
    return models


@pytest.fixture(scope="module")
def server(models_dir: Path) -> Iterator[Server]:
    with webapp_server(models_dir, models_dir.parent) as running:
        yield running


def canvas_box(tab: Tab, index: int = 0) -> dict[str, float]:
    return dict(tab.page.locator("#explore-grid canvas").nth(index).bounding_box())


def canvas_in_cell(tab: Tab, index: int = 0) -> dict[str, float]:
    """The canvas's box relative to its cell (the page may scroll meanwhile)."""
    canvas, cell = canvas_box(tab, index), dict(tab.page.locator("#explore-grid figure").nth(index).bounding_box())
    return {"x": canvas["x"] - cell["x"], "y": canvas["y"] - cell["y"], "width": canvas["width"], "height": canvas["height"]}


def drag(tab: Tab, start: tuple[float, float], end: tuple[float, float], button: str = "left") -> None:
    mouse = tab.page.mouse
    mouse.move(*start)
    mouse.down(button=button)
    mouse.move(*end, steps=6)
    mouse.up(button=button)


def true_hu(models_dir: Path, model: str, seed: int) -> np.ndarray:
    """The generator's image of a seed in float HU, computed here (the server answers 8-bit PNGs only)."""
    loaded = load_model(models_dir / model, components=("generator",))
    with torch.no_grad():
        unit = loaded.generator(latent_from_seed(seed, loaded.latent_dim)[None]).float().numpy()[0, 0]
    return np.asarray(unit_to_hu(unit, loaded.hu_range))


def test_right_drag_sets_width_and_level_live(tab: Tab, server: Server) -> None:
    tab.open("?view=explore&model=tiny-gan&set=random&seed=2&n=1&window=full")
    wait_cells(tab, 1)
    before = canvas_gray(tab, 0)
    box = canvas_box(tab)
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    drag(tab, (x, y), (x - 100, y - 20), button="right")  # W 3000 - 100 x 15, L 500 - 20 x 15 (15 HU per px at W 3000)
    wait_query(tab, "window", "1500,200")
    page = tab.page
    assert page.locator("#explore-window-w").input_value() == "1500"
    assert page.locator("#explore-window-l").input_value() == "200"
    after = wait_for_image(tab, 0, api_image(server, "tiny-gan", seed=2, window="1500,200"))
    assert not np.array_equal(before, after)
    assert tab.console.errors == []


def test_wheel_zooms_drag_pans_and_reset_restores(tab: Tab) -> None:
    tab.open("?view=explore&model=tiny-gan&set=random&seed=2&n=4")
    wait_cells(tab, 4)
    page = tab.page
    box = canvas_box(tab)
    unzoomed = canvas_in_cell(tab)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)  # e^(400/500) = 2.2x about the pointer
    page.wait_for_function("() => Number(document.querySelector('#explore-grid').dataset.zoom) > 2")
    zoomed = canvas_box(tab)
    assert zoomed["width"] == pytest.approx(box["width"] * np.exp(0.8), rel=0.02)
    assert canvas_box(tab, 1)["width"] == pytest.approx(zoomed["width"], rel=0.01)  # all cells zoom together
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    drag(tab, centre, (centre[0] + 30, centre[1] + 20))
    panned = canvas_box(tab)
    assert panned["x"] == pytest.approx(zoomed["x"] + 30, abs=1.5) and panned["y"] == pytest.approx(zoomed["y"] + 20, abs=1.5)
    assert query_of(page.url)["window"] == ["mediastinum"]  # a left drag pans, it does not window

    page.locator("#explore-reset-view").click()
    assert canvas_in_cell(tab) == pytest.approx(unzoomed, abs=0.5)
    assert page.locator("#explore-grid").get_attribute("data-zoom") == "1.000"
    assert tab.console.errors == []


def test_hover_reads_hu_within_the_stated_resolution(tab: Tab, server: Server, models_dir: Path) -> None:
    tab.open("?view=explore&model=tiny-vae&set=random&seed=5&n=1&window=mediastinum")
    wait_cells(tab, 1)
    truth = true_hu(models_dir, "tiny-vae", 5)
    size = truth.shape[0]
    box = canvas_box(tab)
    readout = tab.page.locator("#explore-hu-readout")
    for px, py in ((3, 4), (size // 2, size // 2), (size - 2, size - 5)):
        tab.page.mouse.move(box["x"] + (px + 0.5) * box["width"] / size, box["y"] + (py + 0.5) * box["height"] / size)
        tab.page.wait_for_function(
            "([x, y]) => { const d = document.querySelector('#explore-hu-readout').dataset; return d.x == x && d.y == y; }",
            arg=[px, py],
        )
        hu = float(readout.get_attribute("data-hu"))
        resolution = float(readout.get_attribute("data-resolution"))
        lo, hi = server.api("GET", "/models/tiny-vae").json()["hu_range"]
        assert resolution == pytest.approx((hi - lo) / 510, abs=1e-3)
        # + 0.5 HU: the server renders with its own kernels (fused, channels_last, its thread count), whose float sums
        # differ from this eager pass by a fraction of an HU: enough to cross a grey level's midpoint on some CPUs
        # (a 2-core EPYC: 0.12 HU past it), still a tenth of the resolution
        assert abs(hu - truth[py, px]) <= resolution + 0.5, (px, py, hu, truth[py, px])
        assert f"x {px}, y {py}" in readout.inner_text() and "HU (±5.9)" in readout.inner_text()
    assert tab.console.errors == []


def test_orientation_markers_and_a_scale_bar_in_mm(tab: Tab, server: Server) -> None:
    info = server.api("GET", "/models/tiny-vae").json()
    assert info["pixel_spacing_mm"] == pytest.approx(pixel_spacing_mm(info["image_size"]))
    tab.open("?view=explore&model=tiny-vae&set=random&seed=1&n=4")
    wait_cells(tab, 4)
    page = tab.page
    cell = page.locator("#explore-grid figure.cell").first
    marker = {side: cell.locator(f".orient-marker[data-side={side}]") for side in ("top", "bottom", "left", "right")}
    assert {side: m.inner_text() for side, m in marker.items()} == {"top": "A", "bottom": "P", "left": "R", "right": "L"}
    boxes = {side: m.bounding_box() for side, m in marker.items()}
    assert boxes["top"]["y"] < boxes["bottom"]["y"] and boxes["left"]["x"] < boxes["right"]["x"]
    assert page.locator("#explore-grid .orient-marker").count() == 16
    bar = cell.locator(".scale-bar")
    assert bar.is_visible()
    mm = float(bar.get_attribute("data-mm"))
    assert bar.locator(".scale-bar-label").inner_text() == f"{mm:g} mm"
    cell_width = cell.bounding_box()["width"]
    expected_px = mm / info["pixel_spacing_mm"] * cell_width / info["image_size"]
    assert bar.locator(".scale-bar-line").bounding_box()["width"] == pytest.approx(expected_px, abs=1.0)
    assert expected_px <= 0.3 * cell_width

    # a model whose card records no spacing gets no bar, and a note saying why
    assert server.api("GET", "/models/tiny-gan").json()["pixel_spacing_mm"] is None
    page.locator("#explore-model").select_option("tiny-gan")
    wait_query(tab, "model", "tiny-gan")
    page.wait_for_function("() => document.querySelector('#explore-scale-note').textContent.includes('tiny-gan')")
    assert "records no pixel spacing" in page.locator("#explore-scale-note").inner_text()
    page.wait_for_selector("#explore-grid .scale-bar", state="hidden")
    assert page.locator("#explore-grid .orient-marker").count() > 0
    assert tab.console.errors == []


def difference_pixels(tab: Tab) -> np.ndarray:
    data = tab.page.evaluate(
        """() => { const c = document.querySelector('#explore-compare-difference');
                   return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }"""
    )
    return np.array(data, dtype=np.uint8).reshape(-1, 4)[:, :3]


def test_compare_with_unshifted_shows_it_and_the_difference(tab: Tab, server: Server) -> None:
    tab.open("?view=explore&model=tiny-gan&set=random&seed=7&n=1&window=full")
    wait_cells(tab, 1)
    page = tab.page
    page.locator("#explore-compare-toggle").check()
    page.wait_for_selector("#explore-compare[data-key]")
    assert page.locator("#explore-compare canvas[role=img]").count() == 2
    assert page.locator("#explore-compare-unshifted").is_visible() and page.locator("#explore-compare-difference").is_visible()
    assert (difference_pixels(tab) == 255).all()  # shift 0: no difference, a white map
    assert "HU" in page.locator("#explore-compare .diff-legend").inner_text()

    key = page.locator("#explore-compare").get_attribute("data-key")
    page.locator("#explore-slider-0").focus()
    for _ in range(8):  # 8 steps of 12/32 = +3
        page.keyboard.press("ArrowRight")
    wait_query(tab, "shift", "0:3")
    page.wait_for_function(f"() => document.querySelector('#explore-compare').dataset.key !== '{key}'")
    assert not (difference_pixels(tab) == 255).all()  # shift 3 changes the image: a coloured map
    unshifted = page.evaluate(
        """() => { const c = document.querySelector('#explore-compare-unshifted');
                   const rgba = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   return Array.from(rgba).filter((_, i) => i % 4 === 0); }"""
    )
    expected = api_image(server, "tiny-gan", seed=7, window="full")
    assert np.abs(np.array(unshifted).reshape(expected.shape) - expected.astype(int)).max() <= 1
    scale = float(page.locator("#explore-compare .diff-legend").get_attribute("data-scale"))
    assert scale >= 10
    tab.screenshot("explore-compare-unshifted")
    assert tab.console.errors == []
