"""The render budget's rules on their own: tiers, the reserve kept for small requests, run-alone, release, lanes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from latentct.core.errors import InvalidInputError, OverloadedError
from latentct.rendering.admission import CHEAP_PIXELS, MPX, RenderAdmission


@pytest.fixture
def admission() -> Iterator[RenderAdmission]:
    budget = RenderAdmission(64 * MPX, large_threads=1, small_threads=1)  # reserve: 8 Mpx
    yield budget
    budget.close()


def test_costs_fall_into_three_tiers(admission: RenderAdmission) -> None:
    assert admission.reserve == 8 * MPX
    assert admission.tier(CHEAP_PIXELS) == "cheap"
    assert admission.tier(CHEAP_PIXELS + 1) == "small"
    assert admission.tier(8 * MPX) == "small" and admission.tier(8 * MPX + 1) == "large"


def test_cheap_requests_take_no_share_and_are_never_refused(admission: RenderAdmission) -> None:
    held = [admission.admit(28 * MPX), admission.admit(28 * MPX)]  # the whole large share
    tickets = [admission.admit(CHEAP_PIXELS) for _ in range(1000)]
    assert admission.in_flight == 56 * MPX and all(t.tier == "cheap" for t in tickets)
    for ticket in held:
        ticket.release()
    assert admission.in_flight == 0


def test_large_requests_leave_the_reserve_to_small_ones(admission: RenderAdmission) -> None:
    first, second = admission.admit(28 * MPX), admission.admit(28 * MPX)
    with pytest.raises(OverloadedError) as refused:
        admission.admit(9 * MPX)  # a third large one would eat into the reserve
    assert refused.value.retry_after_s >= 1 and "render budget is full" in str(refused.value)
    small = [admission.admit(4 * MPX), admission.admit(4 * MPX)]  # the reserve is there for small requests
    with pytest.raises(OverloadedError):
        admission.admit(1 * MPX)  # now the budget is full for everyone but cheap images
    assert admission.as_dict()["refused"] == {"small": 1, "large": 1}
    for ticket in (first, second, *small):
        ticket.release()
    assert admission.in_flight == 0


def test_one_request_larger_than_the_large_share_runs_alone_rather_than_never(admission: RenderAdmission) -> None:
    huge = admission.admit(60 * MPX)  # over budget - reserve (56), admitted because nothing large is in flight
    with pytest.raises(OverloadedError):
        admission.admit(10 * MPX)
    huge.release()
    admission.admit(10 * MPX).release()


def test_release_is_idempotent(admission: RenderAdmission) -> None:
    ticket = admission.admit(10 * MPX)
    ticket.release()
    ticket.release()
    assert admission.in_flight == 0
    admission.admit(56 * MPX).release()  # the share was given back once, not twice


def test_encoding_runs_on_its_lane_and_gives_the_share_back(admission: RenderAdmission) -> None:
    threads: list[str] = []

    def encode() -> bytes:
        threads.append(threading.current_thread().name)
        return b"png"

    async def run() -> tuple[bytes, bytes]:
        large, cheap = admission.admit(20 * MPX), admission.admit(CHEAP_PIXELS)
        return await admission.encode(large, encode), await admission.encode(cheap, encode)

    assert asyncio.run(run()) == (b"png", b"png")
    assert threads[0].startswith("latentct-encode-large") and threads[1] == threading.current_thread().name
    assert admission.in_flight == 0 and admission.as_dict()["admitted"]["large"] == 1


def test_a_failing_encoding_still_gives_the_share_back(admission: RenderAdmission) -> None:
    def broken() -> bytes:
        raise ValueError("encoder failed")

    async def run() -> None:
        await admission.encode(admission.admit(20 * MPX), broken)

    with pytest.raises(ValueError, match="encoder failed"):
        asyncio.run(run())
    assert admission.in_flight == 0


def test_a_budget_below_the_reserve_for_one_cheap_image_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="render budget"):
        RenderAdmission(CHEAP_PIXELS)


def test_only_large_work_hands_memory_back_to_the_os(admission: RenderAdmission) -> None:
    """malloc_trim after ordinary strips would make the next forward passes fault their pages in again."""
    if admission._malloc_trim is None:
        pytest.skip("this C library has no malloc_trim")
    for _ in range(12):  # 48 Mpx of small work, more than TRIM_AFTER_PIXELS (32 Mpx)
        admission.admit(4 * MPX).release()
    admission._large.submit(lambda: None).result()  # the lane is FIFO: a trim submitted before has run
    assert admission.stats.trims == 0
    for _ in range(2):
        admission.admit(20 * MPX).release()
    admission._large.submit(lambda: None).result()
    assert admission.stats.trims == 1
