"""REST volumes: NIfTI, a DICOM zip, json measurements and reformats through the app; bad input named; the budget."""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nibabel as nib
import pydicom
import pytest

from tests.api.conftest import LiveServer, settings_for
from tests.rendering.volume_fixtures import make_volume_world

URL = "/api/models/tiny-gan/volume"


def test_json_gives_shifts_and_measurements_without_pixels(client: httpx.Client) -> None:
    response = client.get(URL, params={"set": "random", "direction": 1, "slices": 5, "format": "json"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["shifts"] == pytest.approx([-6.0, -3.0, 0.0, 3.0, 6.0])  # the tiny server has no probe
    assert body["direction"] == 1 and body["direction_source"] == "given" and body["slices"] == 5
    assert body["measurements"]["volume"]["spearman"] is None and body["measurements"]["volume"]["step_mean_hu"] >= 0
    assert body["intended_use"] == "research only, not for clinical use"


def test_nifti_and_dicom_zip(client: httpx.Client) -> None:
    nifti = client.get(URL, params={"set": "random", "direction": 0, "slices": 6})
    assert nifti.status_code == 200 and nifti.headers["content-type"] == "application/gzip"
    image = nib.Nifti1Image.from_bytes(gzip.decompress(nifti.content))
    assert image.shape == (32, 32, 6)
    dicom = client.get(URL, params={"set": "random", "direction": 0, "slices": 6, "format": "dicom-zip"})
    assert dicom.status_code == 200 and dicom.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(dicom.content)) as archive:
        names = sorted(archive.namelist())
        assert len(names) == 6
        first = pydicom.dcmread(io.BytesIO(archive.read(names[0])))
    assert "research only, not for clinical use" in first.SeriesDescription


def test_reformat_png(client: httpx.Client) -> None:
    params: dict[str, Any] = {"set": "random", "direction": 0, "slices": 8, "plane": "sagittal", "index": 3, "window": "lung"}
    response = client.get(f"{URL}/reformat.png", params=params)
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG\r\n\x1a\n")
    bad = client.get(f"{URL}/reformat.png", params={**params, "index": 40})
    assert bad.status_code == 422 and "index 40 is out of range for the sagittal plane" in bad.json()["detail"]


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"set": "random"}, 422, "set 'random' has no slice-level direction"),
        ({"set": "random", "direction": 0, "slices": 300}, 422, "slices"),
        ({"set": "random", "direction": 0, "slices": 1}, 422, "slices"),
        ({"set": "random", "direction": 9}, 422, "direction 9 is out of range"),
        ({"set": "random", "direction": 0, "path": "locked"}, 422, "path 'locked' needs the phantom probe"),
        ({"set": "nope", "direction": 0}, 404, "no direction set 'nope'"),
    ],
)
def test_bad_input_is_named(client: httpx.Client, params: dict[str, Any], status: int, needle: str) -> None:
    response = client.get(URL, params={**params, "format": "json"})
    assert response.status_code == status, response.text
    assert needle in response.json()["detail"]


@pytest.fixture(scope="module")
def probe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("volume-server")
    model_dir, _ = make_volume_world(root)
    live = LiveServer(settings_for(root, Path(model_dir).parent)).start()
    yield live
    live.stop()


def test_with_a_probe_both_paths_and_the_budget(probe_server: LiveServer) -> None:
    with httpx.Client(base_url=probe_server.base_url, timeout=120) as http:
        answers = {
            path: http.get(URL, params={"set": "random", "direction": 2, "slices": 10, "path": path, "format": "json"})
            for path in ("straight", "locked")
        }
        before = http.get("/api/health").json()["engine"]["render_budget"]["admitted"]
        big = http.get(URL, params={"set": "random", "direction": 2, "slices": 80, "format": "json"})
        after = http.get("/api/health").json()["engine"]["render_budget"]["admitted"]
    for path, response in answers.items():
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["path"] == path and body["level_targets"] is not None
        assert body["measurements"]["volume"]["spearman"] is not None
    straight, locked = (answers[p].json()["measurements"]["volume"]["max_drift_sd"] for p in ("straight", "locked"))
    assert locked < straight
    # 80 slices of 32 x 32 px is more than one cheap image: the volume took a ticket of the render budget
    assert big.status_code == 200 and after["small"] == before["small"] + 1
