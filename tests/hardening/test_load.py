"""32 concurrent clients mixing images, strips and label writes against the real server: no errors, no lost label.

Timings are printed, never asserted (bench/bench_load.py measures them properly).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.hardening.loadgen import Target, run_load
from tests.support.serverproc import ADMIN_TOKEN, ServerProcess, bearer, new_annotator

CLIENTS = 32
SECONDS = 8.0


@pytest.mark.slow
def test_mixed_load_has_no_errors_and_loses_no_label(hardened_server: ServerProcess) -> None:
    with hardened_server.client() as client:
        target = Target.discover(client)
        tokens = [new_annotator(client, f"Load client {i}") for i in range(CLIENTS)]
        rss_before = hardened_server.rss_kib()
        result = asyncio.run(run_load(hardened_server.base_url, tokens, target, SECONDS, seed=8))
        rss_after = hardened_server.rss_kib()
        print(f"\n{result.requests} requests in {result.seconds:.1f} s from {CLIENTS} clients; "
              f"server RSS {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MiB\n{result.table()}")
        assert result.errors == [], result.errors[:10]
        assert {kind for kind, counts in result.statuses.items() if counts} == {"image", "strip", "label"}
        assert result.label_ids, "no label was written"
        exported = client.get("/api/labels/export", params={"format": "json"}, headers=bearer(ADMIN_TOKEN))
        assert exported.status_code == 200
        stored = Counter(label["id"] for label in exported.json()["labels"])
    acknowledged = Counter(result.label_ids)
    assert max(acknowledged.values()) == 1, "the server gave two writes the same id"
    assert all(stored[label_id] == 1 for label_id in acknowledged), "a label answered 201 is missing or duplicated"
