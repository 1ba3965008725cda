"""Admission control for rendering: a budget of output pixels in flight, covering the forward pass AND the encoding.

The inference engine's queue bounds forward passes only, yet encoding is where big requests spend their time and
memory: a 64-frame GIF at scale 8 of a 128 px model is 126 frames of 1024 x 1024, about 3 s of CPU and 230 MiB at
its peak, against 0.1 s of forward pass. So every image request states its cost in output pixel units (frames
encoded x output pixels per frame, which is bytes of 8-bit image data; peak memory is about two bytes per unit) and
takes a ticket for it before its forward pass; the ticket is given back once the last byte is encoded, or, for a
stream, once the stream ends. Three tiers:

- cheap (cost <= CHEAP_PIXELS: one 128 px image at scale <= 2): no ticket, encoded inline on the event loop (a thread
  hop costs more than the encoding). Never refused here, so a slider never waits for, or is refused behind, a GIF.
- small (cost <= the reserve, budget / RESERVE_DIVISOR): admitted while everything in flight fits the budget;
  encoded on the small lane.
- large: admitted only while everything in flight leaves the reserve free, so big requests can never take the share
  the small ones need; encoded on the large lane. One larger than the large share on its own is admitted when no
  other large one is in flight (it runs alone rather than never: every valid request stays servable).

A request that does not fit is refused at once with OverloadedError (503, Retry-After), never queued: a waiting
request would hold its connection and memory while the ones ahead take seconds each. The lanes are executors of
their own with a few threads each, not the default thread pool that the label store and file reads use, so a flood
of big requests cannot hold every thread. Once the budget drains after big work, glibc's malloc_trim hands the freed
encoder buffers back to the OS (glibc keeps them otherwise: after 16 GIFs at once 2.4 GiB stayed resident). It waits
for no rendering to be in progress, not for every ticket to be back: a stream keeps its ticket while it plays.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from latentct.core.errors import InvalidInputError, OverloadedError

log = logging.getLogger(__name__)

T = TypeVar("T")
Tier = Literal["cheap", "small", "large"]
MPX = 1 << 20  # the setting's unit: 2^20 output pixels
CHEAP_PIXELS = 128 * 128 * 4  # one 128 px image at scale 2; encoding it takes ~0.1 ms, less than a thread hop
RESERVE_DIVISOR = 8  # the reserve for small requests: an eighth of the budget
SMALL_LANE_THREADS = 2
MAX_LARGE_LANE_THREADS = 4
MAX_RETRY_AFTER_S = 30
TRIM_AFTER_PIXELS = 32 * MPX  # return memory to the OS once this much has been released since the last trim


def default_large_threads() -> int:
    """One large-lane thread per two cores (at most 4): the rest stays with the engine and the event loop."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_LARGE_LANE_THREADS, cores // 2))


def _load_malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


@dataclass
class Ticket:
    """A request's share of the budget; `release` is idempotent and thread-safe (encodings end on lane threads)."""

    cost: int
    tier: Tier
    admission: RenderAdmission | None = field(default=None, repr=False)
    started: float = field(default_factory=time.monotonic)
    encoded: bool = False  # its rendering and encoding have ended (a stream then still holds its share)
    released: bool = False

    def release(self) -> None:
        if self.admission is not None:
            self.admission.release(self)


@dataclass
class AdmissionStats:
    admitted: dict[str, int] = field(default_factory=lambda: {"cheap": 0, "small": 0, "large": 0})
    refused: dict[str, int] = field(default_factory=lambda: {"small": 0, "large": 0})
    trims: int = 0


class RenderAdmission:
    """The render budget of one process; built in the app's lifespan, kept in app.state.admission."""

    def __init__(self, budget_pixels: int, *, large_threads: int | None = None, small_threads: int = SMALL_LANE_THREADS) -> None:
        if budget_pixels < CHEAP_PIXELS * RESERVE_DIVISOR:
            raise InvalidInputError(f"the render budget must be at least {CHEAP_PIXELS * RESERVE_DIVISOR} pixels")
        self.budget = budget_pixels
        self.reserve = budget_pixels // RESERVE_DIVISOR
        self.large_threads = large_threads or default_large_threads()
        self.stats = AdmissionStats()
        self._lock = threading.Lock()
        self._used = 0
        self._used_large = 0
        self._rendering = 0  # pixels admitted whose encoding has not ended: malloc_trim waits for none
        self._encoded_since_trim = 0
        self._mean_render_s: dict[Tier, float] = {"cheap": 0.0, "small": 1.0, "large": 3.0}
        self._small = ThreadPoolExecutor(small_threads, thread_name_prefix="latentct-encode-small")
        self._large = ThreadPoolExecutor(self.large_threads, thread_name_prefix="latentct-encode-large")
        self._malloc_trim = _load_malloc_trim()

    def tier(self, cost: int) -> Tier:
        if cost <= CHEAP_PIXELS:
            return "cheap"
        return "small" if cost <= self.reserve else "large"

    @property
    def in_flight(self) -> int:
        return self._used

    def admit(self, cost: int) -> Ticket:
        """A ticket for `cost` output pixels, or OverloadedError at once when it does not fit."""
        tier = self.tier(cost)
        if tier == "cheap":
            self.stats.admitted["cheap"] += 1
            return Ticket(cost, tier)
        with self._lock:
            if not self._fits(cost, tier):
                self.stats.refused[tier] += 1
                retry_s = min(MAX_RETRY_AFTER_S, math.ceil(self._mean_render_s[tier]))
                raise OverloadedError(self._refusal(cost), retry_after_s=retry_s)
            self._used += cost
            self._rendering += cost
            if tier == "large":
                self._used_large += cost
            self.stats.admitted[tier] += 1
        return Ticket(cost, tier, self)

    def _fits(self, cost: int, tier: Tier) -> bool:
        if tier == "small":
            return self._used + cost <= self.budget
        if self._used + cost <= self.budget - self.reserve:
            return True
        # Larger than the large share on its own: it runs alone rather than never.
        return cost > self.budget - self.reserve and self._used_large == 0 and self._used <= self.reserve

    def _refusal(self, cost: int) -> str:
        return (
            f"the render budget is full ({self._used / MPX:.1f} of {self.budget / MPX:.0f} Mpx of output in flight, "
            f"this request needs {cost / MPX:.1f}); retry shortly, or ask for fewer frames or a smaller scale"
        )

    def release(self, ticket: Ticket) -> None:
        """Give the ticket's share back (its encoding has ended, or it never will: an error, a client gone)."""
        self.encoded(ticket)
        with self._lock:
            if ticket.released:
                return
            ticket.released = True
            self._used -= ticket.cost
            if ticket.tier == "large":
                self._used_large -= ticket.cost

    def encoded(self, ticket: Ticket) -> None:
        """The ticket's encoding has ended; once no rendering is in progress, freed memory goes back to the OS."""
        with self._lock:
            if ticket.encoded:
                return
            ticket.encoded = True
            self._rendering -= ticket.cost
            # Retry-After follows how long rendering + encoding take (a stream's playing time would say nothing).
            took = time.monotonic() - ticket.started
            self._mean_render_s[ticket.tier] = 0.8 * self._mean_render_s[ticket.tier] + 0.2 * took
            # Only large work counts towards a trim: trimming after ordinary strips hands pages back that the next
            # forward pass faults in again (measured: +0.7 ms of engine CPU per image under mixed load).
            if ticket.tier == "large":
                self._encoded_since_trim += ticket.cost
            trim = self._rendering == 0 and self._encoded_since_trim >= TRIM_AFTER_PIXELS
            if trim:
                self._encoded_since_trim = 0
        if trim:
            self._submit_trim()

    def _submit_trim(self) -> None:
        if self._malloc_trim is None:
            return
        with contextlib.suppress(RuntimeError):  # the lanes are shut down: the process is ending anyway
            self._large.submit(self._trim)

    def _trim(self) -> None:
        assert self._malloc_trim is not None
        self._malloc_trim(0)
        self.stats.trims += 1

    async def encode(self, ticket: Ticket, fn: Callable[[], T], *, release: bool = True) -> T:
        """Run `fn` (the encoding) inline for a cheap ticket, else on the ticket's lane. With `release`, the ticket is
        given back when `fn` has finished, also when the caller was cancelled meanwhile (its memory is held until then)."""
        if ticket.tier == "cheap":
            try:
                return fn()
            finally:
                if release:
                    ticket.release()  # a cheap ticket holds no share: nothing to give back, nothing to trim
        lane = self._large if ticket.tier == "large" else self._small
        try:
            future: Future[T] = lane.submit(fn)
        except RuntimeError:  # the lanes are shut down
            if release:
                ticket.release()
            raise OverloadedError("the server is shutting down; retry on another replica", retry_after_s=1.0) from None
        future.add_done_callback(lambda _: ticket.release() if release else self.encoded(ticket))
        return await asyncio.wrap_future(future)

    def as_dict(self) -> dict[str, Any]:
        """For /api/health and benchmarks."""
        return {
            "budget_mpx": round(self.budget / MPX, 1),
            "reserve_mpx": round(self.reserve / MPX, 1),
            "in_flight_mpx": round(self._used / MPX, 1),
            "large_threads": self.large_threads,
            "admitted": dict(self.stats.admitted),
            "refused": dict(self.stats.refused),
            "trims": self.stats.trims,
        }

    def close(self) -> None:
        """Stop the lanes; encodings still running finish on their threads (requests have ended by now)."""
        self._small.shutdown(wait=False, cancel_futures=True)
        self._large.shutdown(wait=False, cancel_futures=True)
