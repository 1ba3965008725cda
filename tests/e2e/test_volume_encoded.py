"""A volume around an encoded slice (issue 20, item 1) in real Chromium: upload a slice in Explore on the tiny VAE, press
"Open as volume", and the Volume view POSTs the latent, draws three planes and the real phantom row, names the encoded
slice, exports by POST; another model chosen in the view shows the server's refusal in words."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, Tab
from tests.e2e.test_encode_panel import DICOM_FILE, upload
from tests.e2e.test_volume_view import stats
from tests.e2e.test_webapp import wait_cells

pytestmark = pytest.mark.browser

READY = "section[data-view=volume][data-state=ready][data-reference=ready]"
ERROR = "section[data-view=volume][data-state=error]"


def test_open_an_encoded_slice_as_a_volume_then_another_model_is_refused(tab: Tab, server: Server) -> None:
    page = tab.page
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.post_data or "") if r.method == "POST" and r.url.endswith("/volume") else None)
    tab.open("?view=explore&model=tiny-vae&set=random&window=full&n=1")
    wait_cells(tab, 1)
    upload(tab, DICOM_FILE)
    page.wait_for_selector("#explore-encode-result:not([hidden]) .encode-summary:not([hidden])")
    page.locator("#explore-encode-volume").click()

    page.wait_for_selector("section[data-view=volume]:not([hidden])")
    assert "#latent=" in page.url and "view=volume" in page.url
    page.wait_for_selector(ERROR, timeout=60_000)  # the tiny VAE's set has no slice-level direction yet: pick one
    page.locator("#volume-direction").select_option("1")
    page.wait_for_selector(READY, timeout=60_000)
    status = page.locator("#volume-status").inner_text()
    assert "around your encoded slice (model tiny-vae)" in status
    assert "around your encoded slice (model tiny-vae)" in page.locator("section[data-row=generated]").inner_text()
    for row in ("generated", "reference"):
        drawn = stats(tab, row)
        assert [c["plane"] for c in drawn] == ["axial", "coronal", "sagittal"]
        assert all(c["width"] > 1 and c["height"] > 1 and c["spread"] > 0 for c in drawn), (row, drawn)
    assert posts and all('"encoded_by": {"model": "tiny-vae"' in p or '"encoded_by":{"model":"tiny-vae"' in p for p in posts)
    assert page.locator("#volume-seed").is_disabled()

    with page.expect_download() as download:  # the export POSTs the latent too (a link cannot carry it)
        page.locator("#volume-export-nifti").click()
    saved = download.value.path()
    assert download.value.suggested_filename == "tiny-vae-random-1.nii.gz"
    assert len(gzip.decompress(Path(saved).read_bytes())) > 16 * 32 * 32 * 2

    page.locator("#volume-model").select_option("tiny-gan")
    page.wait_for_selector(ERROR, timeout=60_000)
    message = page.locator("#volume-status").inner_text()
    assert "this slice was encoded by model tiny-vae (generator " in message
    assert "not by tiny-gan (generator " in message and "encode it with tiny-gan first" in message
    assert page.locator("canvas[data-row=generated][data-plane=axial]").evaluate("(c) => c.width") == 1  # nothing stale
    # the browser logs the refused request itself ("Failed to load resource ... 422"); nothing else may be an error
    others = [e for e in tab.console.errors if "the server responded with a status of 422" not in e]
    assert others == []
