"""Overload: a burst larger than the inference queue. The excess is refused at once with 503 and Retry-After (never
queued), what fits is served, and the server serves normally afterwards."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from tests.hardening.conftest import QUEUE_SIZE
from tests.hardening.serverproc import ServerProcess

BURST = 48
STRIP = "/api/models/tiny-gan/traversal.png"


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    detail: str
    done_at: float


async def _burst(base_url: str, count: int, first_seed: int) -> list[Answer]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:

        async def one(seed: int) -> Answer:
            response = await client.get(STRIP, params={"set": "sefa", "direction": 1, "steps": 64, "seed": seed})
            detail = response.json()["detail"] if response.status_code != 200 else ""
            return Answer(response.status_code, response.headers.get("retry-after"), detail, time.monotonic())

        return list(await asyncio.gather(*(one(first_seed + i) for i in range(count))))


def test_a_burst_over_the_queue_is_partly_refused_fast_and_the_server_recovers(configured_server: ServerProcess) -> None:
    answers = asyncio.run(_burst(configured_server.base_url, BURST, first_seed=1000))
    served = [a for a in answers if a.status == 200]
    refused = [a for a in answers if a.status == 503]
    assert len(served) + len(refused) == BURST, sorted({a.status for a in answers})
    assert served and refused, (len(served), len(refused))
    for answer in refused:
        assert answer.retry_after is not None and int(answer.retry_after) >= 1
        assert "queue is full" in answer.detail
    # refused requests were not queued: none was answered after the last request that was served
    assert max(a.done_at for a in refused) <= max(a.done_at for a in served)
    with configured_server.client() as client:
        assert client.get("/api/health").json()["engine"]["rejected"] >= len(refused)
        for seed in range(5):
            assert client.get(STRIP, params={"set": "sefa", "direction": 1, "steps": 64, "seed": seed}).status_code == 200
    again = asyncio.run(_burst(configured_server.base_url, QUEUE_SIZE, first_seed=5000))
    assert [a.status for a in again] == [200] * QUEUE_SIZE
    print(f"burst of {BURST}: {len(served)} served, {len(refused)} refused with 503")
