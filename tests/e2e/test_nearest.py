"""Explore's "Nearest training slice" toggle in a real Chromium (issue 20, item 5): beside each sample, the nearest
training slice (nearest.png in the same window) and a caption with patient, level, distance and how that compares
with held-out real slices; kept in the address; a model without an index says how to build one.

The server here serves a tiny GAN whose card describes a tiny phantom, with its index built and the shipped probe
beside it, and a tiny VAE without an index."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Server, Tab, webapp_server
from tests.e2e.test_webapp import query_of, wait_cells, wait_query
from tests.factories import make_tiny_model
from tests.nearest_factory import make_indexed_model

pytestmark = pytest.mark.browser

CAPTION = re.compile(r"patient \d+, level [01]\.\d\d, distance \d+\.\d\d \(closer than \d+ % of real held-out slices\)")
EXPLORE = "?view=explore&model=tiny-gan&set=random&n=4&window=lung"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("nearest-e2e")
    models_dir = root / "models"
    make_indexed_model(models_dir, "tiny-gan")
    make_tiny_model(models_dir, "tiny-vae", "vae", seed=2, sets=("random",))
    with webapp_server(models_dir, root) as running:
        yield running


def wait_panels(tab: Tab, count: int) -> None:
    """Wait until `count` nearest panels show a loaded image and a caption with numbers."""
    tab.page.wait_for_function(
        """(count) => {
             const panels = [...document.querySelectorAll('#explore-grid .nearest-panel')];
             return panels.length === count && panels.every((p) => {
               const img = p.querySelector('img');
               return img.complete && img.naturalWidth > 0 && /distance/.test(p.textContent);
             });
           }""",
        arg=count,
    )


def test_the_toggle_shows_each_samples_nearest_training_slice_with_its_caption(tab: Tab, server: Server) -> None:
    tab.open(EXPLORE)
    wait_cells(tab, 4)
    assert tab.page.locator("#explore-grid .nearest-panel").count() == 0
    tab.page.locator("#explore-nearest").check()
    wait_query(tab, "nearest", "1")
    wait_panels(tab, 4)
    for i, seed in enumerate(range(4)):
        panel = tab.page.locator("#explore-grid .nearest-panel").nth(i)
        caption = panel.locator(".nearest-caption").inner_text()
        assert CAPTION.fullmatch(caption), caption
        expected = server.api("GET", "/models/tiny-gan/nearest", params={"seed": seed, "set": "random"}).json()
        words = f"patient {expected['patient']}, level {expected['level']:.2f}, distance {expected['distance']:.2f}"
        assert caption.startswith(words), (caption, words)
        src = panel.locator("img").get_attribute("src") or ""
        assert src.startswith("/api/models/tiny-gan/nearest.png?") and query_of(src)["window"] == ["lung"]
        assert query_of(src)["seed"] == [str(seed)]
        assert panel.locator("img").evaluate("(img) => img.naturalWidth") == 32
    tab.screenshot("explore_nearest")
    tab.page.locator("#explore-nearest").uncheck()
    tab.page.wait_for_function("() => !new URLSearchParams(location.search).has('nearest')")
    assert tab.page.locator("#explore-grid .nearest-panel").count() == 0
    assert tab.console.errors == []


def test_the_toggle_is_kept_in_the_address_and_follows_the_window(tab: Tab) -> None:
    tab.open(f"{EXPLORE}&nearest=1")
    assert tab.page.locator("#explore-nearest").is_checked()
    wait_panels(tab, 4)
    tab.page.keyboard.press("3")  # the bone window
    tab.page.wait_for_function(
        "() => [...document.querySelectorAll('#explore-grid .nearest-panel img')].every((i) => i.src.includes('window=bone'))"
    )
    assert tab.console.errors == []


def test_a_model_without_index_says_how_to_build_one(tab: Tab) -> None:
    tab.open("?view=explore&model=tiny-vae&set=random&n=1&nearest=1")
    caption = tab.page.locator("#explore-grid .nearest-caption")
    caption.filter(has_text="latentct nearest build").wait_for()
    assert "build it with `latentct nearest build --model models/tiny-vae`" in caption.inner_text()
    assert tab.page.locator("#explore-grid .nearest-panel img").is_hidden()
