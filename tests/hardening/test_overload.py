"""Overload: a burst larger than the inference queue, and a flood of big traversals beyond the render budget. The
excess is refused at once with 503 and Retry-After (never queued), what fits is served, cheap images are served
meanwhile, and the server serves normally (and its memory is back) afterwards."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from latentct.rendering.encoding import PNG_SIGNATURE
from tests.hardening.conftest import QUEUE_SIZE
from tests.support.serverproc import ServerProcess, free_port, running, server_env

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


# The render budget: frames x output pixels in flight, forward pass and encoding ----------------------------------

BUDGET_MPX = 16  # reserve 2 Mpx for small requests, 14 for large ones
# tiny models are 32 px: 64 frames of 256 x 256
BIG: dict[str, str | int] = {"set": "sefa", "direction": 1, "steps": 64, "scale": 8}
BIG_STREAM = "/api/models/tiny-gan/traversal/stream"  # 4 Mpx, held while it plays: 3 fit in the large share
BIG_GIF = "/api/models/tiny-gan/traversal.gif"  # 126 frames shown, 7.9 Mpx: none fits beside 3 streams
FLOOD = 16
ADMITTED_STREAMS = 3
RSS_SLACK_KIB = 100 * 1024


@pytest.fixture(scope="module")
def budget_server(hardening_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server with a small render budget and no response cache (every request renders)."""
    root = tmp_path_factory.mktemp("budget-server")
    env = server_env(hardening_dirs[0], root / "var", free_port(), render_budget_mpx=BUDGET_MPX, response_cache_mb=0)
    with running(env, root / "server.log") as server:
        yield server


async def _first_part(chunks: AsyncIterator[bytes]) -> bytes:
    """Read a multipart stream up to the end of its first PNG. The caller keeps `chunks` referenced: an abandoned
    iterator is closed when collected, and that closes the connection (and ends the stream early)."""
    received = b""
    while b"IEND" not in received:
        received += await anext(chunks)
    return received


def _refusal(response: httpx.Response) -> str:
    assert response.status_code == 503, response.status_code
    assert int(response.headers["retry-after"]) >= 1
    return str(response.json()["detail"])


async def _flood_while_streams_hold(base_url: str) -> tuple[list[bytes], list[str], list[httpx.Response]]:
    """16 big streams at fps 1 (each holds its share while open), then, while the admitted ones play, 16 big GIFs,
    one image.png and one small strip. Returns (first parts of the admitted streams, refusals, the GIFs + the small)."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        requests = [client.build_request("GET", BIG_STREAM, params={**BIG, "fps": 1, "seed": s}) for s in range(FLOOD)]
        streams = await asyncio.gather(*(client.send(r, stream=True) for r in requests))
        try:
            playing = [s.aiter_raw() for s in streams if s.status_code == 200]
            first_parts = [await _first_part(chunks) for chunks in playing]
            refused = []
            for response in (s for s in streams if s.status_code != 200):
                await response.aread()
                refused.append(_refusal(response))
            gifs = await asyncio.gather(*(client.get(BIG_GIF, params={**BIG, "seed": 100 + i}) for i in range(FLOOD)))
            image = await client.get("/api/models/tiny-gan/image.png", params={"seed": 7})  # the fast path
            small = await client.get(STRIP, params={**BIG, "scale": 2})  # 0.25 Mpx: the reserve's
            return first_parts, refused, [*gifs, image, small]
        finally:
            for response in streams:
                await response.aclose()


async def _gif_flood(base_url: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=FLOOD, max_keepalive_connections=FLOOD)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:
        return list(await asyncio.gather(*(client.get(BIG_GIF, params={**BIG, "seed": 1000 + i}) for i in range(FLOOD))))


def _served_once_free(server: ServerProcess) -> httpx.Response:
    """A big GIF, asked for until the streams' shares are back (closing a stream is noticed by the server a little
    after the client closed it): a condition, the number of tries only keeps a broken run from hanging."""
    with server.client(timeout=120) as client:
        for attempt in range(200):
            response = client.get(BIG_GIF, params={**BIG, "seed": 500 + attempt})
            if response.status_code != 503:
                return response
            time.sleep(0.05)
    raise AssertionError("the budget never came back after the streams were closed")


def _rss_settles(server: ServerProcess, limit_kib: int) -> int:
    deadline = time.monotonic() + 30
    while (rss := server.rss_kib()) > limit_kib and time.monotonic() < deadline:
        time.sleep(0.1)
    return rss


def test_the_render_budget_refuses_big_work_beyond_it_and_cheap_images_still_serve(budget_server: ServerProcess) -> None:
    with budget_server.client() as client:  # warm: every kind of request once, small
        for path in (BIG_GIF, BIG_STREAM, STRIP):
            assert client.get(path, params={"set": "sefa", "direction": 1, "steps": 2}).status_code == 200
    rss_start = budget_server.rss_kib()

    first_parts, refused, (*gifs, image, small) = asyncio.run(_flood_while_streams_hold(budget_server.base_url))
    # what fits is admitted and served, the rest refused at once
    assert len(first_parts) == ADMITTED_STREAMS, (len(first_parts), refused[:1])
    assert all(part.count(PNG_SIGNATURE) == 1 and b"IEND" in part for part in first_parts)
    assert len(refused) == FLOOD - ADMITTED_STREAMS
    assert all("render budget is full" in detail for detail in refused)
    # while the admitted streams hold the large share, no big GIF fits; the image and the small strip still do
    assert all("render budget is full" in _refusal(gif) for gif in gifs)
    assert image.status_code == 200 and image.content.startswith(PNG_SIGNATURE)
    assert small.status_code == 200 and small.content.startswith(PNG_SIGNATURE)

    # the streams closed, their shares are back: a GIF flood is partly served, the excess refused with Retry-After
    assert _served_once_free(budget_server).status_code == 200
    again = asyncio.run(_gif_flood(budget_server.base_url))
    assert [r for r in again if r.status_code == 200], "nothing of the flood was served"
    for response in again:
        assert (response.status_code == 200 and response.content.startswith(b"GIF89a")) or "budget" in _refusal(response)
    assert _rss_settles(budget_server, rss_start + RSS_SLACK_KIB) <= rss_start + RSS_SLACK_KIB
    with budget_server.client() as client:  # /api/health tells an operator what the budget did
        budget = client.get("/api/health").json()["engine"]["render_budget"]
    assert budget["in_flight_mpx"] == 0 and budget["refused"]["large"] >= len(refused) + len(gifs)
    print(f"streams: {len(first_parts)} served, {len(refused)} refused; GIFs after: "
          f"{sum(r.status_code == 200 for r in again)} served, {sum(r.status_code == 503 for r in again)} refused")

