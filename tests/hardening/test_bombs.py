"""DICOM decompression bombs sent to a real `latentct serve`: each answered 4xx from its header, fast, without the memory.

Before the header was checked (measured with the old uploads.py): the 608-byte RLE file declaring 32768 x 32768 took
10.8 s and 2 GiB of peak RSS to answer 400, the 261 KB deflated file 6.9 s and 1.3 GiB, and the 6 MiB RLE run bomb
was decoded (4.1 s, 425 MiB) and encoded as if it were a slice. The server's peak RSS is reset before each upload
(clear_refs), so the growth measured is the upload's own.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, RLELossless

from tests.hardening.dicom_bombs import BOMBS, reset_peak_rss, send_upload, slice_file, thorax_hu
from tests.support.serverproc import ServerProcess

# issue 18's bound is one second to the answer; wall time on a shared CI machine measures the neighbours, so the test
# bounds the server's CPU time for the upload (refused bombs: 0.01-0.3 s, before the fix up to 10.8 s) and the bench
# (bench/bench_fuzz.py --bombs-only) prints the wall time.
MAX_SERVER_CPU_SECONDS = 1.0
MAX_RSS_GROWTH_MIB = 100.0  # refused bombs: 0-32 MiB; before the fix up to 2 GiB
SYNTAXES = (ExplicitVRLittleEndian, RLELossless, DeflatedExplicitVRLittleEndian)
LEGIT = [(size, syntax) for size in (128, 512) for syntax in SYNTAXES]


@pytest.fixture(scope="module")
def bomb_client(hardened_server: ServerProcess) -> Iterator[httpx.Client]:
    if not reset_peak_rss(hardened_server.pid):
        pytest.skip("this kernel does not let us reset the server's peak RSS (/proc/<pid>/clear_refs)")
    with hardened_server.client() as client:
        yield client


@pytest.mark.parametrize(("size", "syntax"), LEGIT, ids=[f"{size}-{syntax.name}" for size, syntax in LEGIT])
def test_legitimate_dicom_slices_still_encode(bomb_client: httpx.Client, size: int, syntax: str) -> None:
    data = slice_file(thorax_hu(size).round(), syntax)
    answer = bomb_client.post("/api/models/tiny-vae/encode", files={"file": ("slice.dcm", data, "application/dicom")})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["input_format"] == "dicom" and len(body["latent"]) == 8


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_dicom_bomb_is_refused_fast_and_small(hardened_server: ServerProcess, bomb_client: httpx.Client, name: str) -> None:
    build, status = BOMBS[name]
    data = build()
    answer = send_upload(hardened_server, bomb_client, name, data)
    print(f"{name}: {answer.size_bytes} B -> {answer.status} in {answer.seconds:.3f} s, "
          f"+{answer.rss_growth_mib:.1f} MiB peak RSS, {answer.cpu_seconds:.2f} s CPU: {answer.detail}")
    assert answer.status == status, answer.detail
    assert answer.detail and "0x" not in answer.detail
    assert answer.cpu_seconds < MAX_SERVER_CPU_SECONDS, f"{name} cost the server {answer.cpu_seconds:.2f} s of CPU"
    assert answer.rss_growth_mib < MAX_RSS_GROWTH_MIB, f"{name} grew the server's RSS by {answer.rss_growth_mib:.0f} MiB"
    assert bomb_client.get("/api/health").json()["status"] == "ok"
