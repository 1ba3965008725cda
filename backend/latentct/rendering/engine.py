"""The inference engine: one worker thread per device (on a CPU with 2+ cores, two by default) runs every forward
pass, coalescing concurrent requests.

Request handlers `await engine.generate(model, latents)`; the event loop never runs a network. The worker takes the
oldest job and every queued job for the same model (up to `max_batch` rows), waiting at most `batch_wait_s` (from the
first job's arrival) for more when the previous batch had company, runs them as one batch under
torch.inference_mode, and hands each caller its rows. A lone client therefore never waits, and concurrent clients
are gathered into batches. Other work that must run on the device (encoders, latent optimisation steps, warm-up)
goes through `call`, so torch never has two threads competing for the cores (with `threads` > 1, as many as there
are workers, each with its share of the torch threads). At most `queue_size` jobs are in the
engine at once (queued or computing); beyond that `generate` and `call` raise OverloadedError (503, Retry-After).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import torch

from latentct.core.errors import InvalidInputError, OverloadedError
from latentct.rendering.registry import ServedModel

log = logging.getLogger(__name__)

T = TypeVar("T")
# On a CPU the forward runs in chunks of at most this many rows: beyond it the activations leave the cache and the
# cost per image rises. Demo models as served (fused), one idle core, 48 images in chunks of 1/2/4/6/8/12/16/24/48
# rows, ms per image: GAN 2.81/2.26/1.91/1.65/1.62/1.54/1.50/1.50/1.94, VAE 2.19/1.72/1.60/1.42/1.37/1.29/1.24/1.32/
# 2.16. 16 is the best for both, short of the cliff; 32 clients over HTTP, two engine threads: 590 images/s at 16
# rows, 562 at 8. (Before the networks were fused, 8 rows was best: the BatchNorm passes doubled the traffic.)
CPU_CHUNK_ROWS = 16


@dataclass
class _Job:
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    enqueued_at: float
    model: ServedModel | None = None
    latents: torch.Tensor | None = None  # (N, latent_dim) float32, CPU
    call: Callable[[], Any] | None = None

    @property
    def rows(self) -> int:
        return 0 if self.latents is None else int(self.latents.shape[0])


@dataclass
class EngineStats:
    """Counters for /api/health and the benchmark."""

    batches: int = 0
    images: int = 0
    jobs: int = 0
    calls: int = 0
    rejected: int = 0
    largest_batch: int = 0
    busy_s: float = 0.0
    cpu_s: float = 0.0  # CPU time of the worker thread in image batches: all their compute when torch runs one thread
    batch_sizes: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        mean = self.images / self.batches if self.batches else 0.0
        return {
            "batches": self.batches,
            "images": self.images,
            "jobs": self.jobs,
            "calls": self.calls,
            "rejected": self.rejected,
            "largest_batch": self.largest_batch,
            "mean_batch": round(mean, 2),
            "busy_s": round(self.busy_s, 3),
            "cpu_s": round(self.cpu_s, 3),
        }


def configure_torch_threads(cpu_threads: int) -> None:
    """Pin torch's intra-op pool (0 keeps torch's default: one thread per physical core)."""
    if cpu_threads > 0:
        torch.set_num_threads(cpu_threads)


def _resolve(job: _Job, result: Any = None, error: BaseException | None = None) -> None:
    """Complete a job's future on its event loop (the caller may have gone away: then nothing happens)."""

    def settle() -> None:
        if job.future.done():
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        job.loop.call_soon_threadsafe(settle)


class InferenceEngine:
    """Worker threads for one device (one by default); see the module docstring for the batching rules.

    `threads` > 1 lets several batches compute at once, each in its own thread; meant for a CPU with one torch
    thread per worker, where single-threaded forwards in parallel scale better than one forward on an OpenMP pool
    that shares its cores with the event loop.
    """

    def __init__(
        self,
        device: torch.device,
        *,
        max_batch: int = 64,
        batch_wait_s: float = 0.002,
        queue_size: int = 256,
        threads: int = 1,
    ) -> None:
        if max_batch < 1 or queue_size < 1 or batch_wait_s < 0 or threads < 1:
            raise InvalidInputError(
                f"engine limits must be positive: max_batch {max_batch}, queue_size {queue_size}, threads {threads}"
            )
        self.device = device
        self.max_batch = max_batch
        self.chunk_rows = min(max_batch, CPU_CHUNK_ROWS) if device.type == "cpu" else max_batch
        self.batch_wait_s = batch_wait_s
        self.queue_size = queue_size
        self.stats = EngineStats()
        self._pending: deque[_Job] = deque()
        self._active = 0  # jobs taken by the workers and not yet answered
        self._cond = threading.Condition()
        self._stats_lock = threading.Lock()
        self.thread_count = threads
        self._stopping = False
        self._last_batch_jobs = 1
        self._mean_batch_s = 0.01
        self._threads: list[threading.Thread] = []

    # lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> InferenceEngine:
        if not self._threads:
            for i in range(self.thread_count):
                name = f"latentct-engine-{self.device}" + (f"-{i}" if self.thread_count > 1 else "")
                self._threads.append(threading.Thread(target=self._run, name=name, daemon=True))
            for thread in self._threads:
                thread.start()
        return self

    async def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking jobs, finish every queued one, then stop the worker (waits up to `timeout_s`)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            await asyncio.to_thread(thread.join, max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            log.warning("inference engine still busy after %.0f s at shutdown", timeout_s)

    @property
    def in_flight(self) -> int:
        return len(self._pending) + self._active

    # submitting -----------------------------------------------------------------------------------------------

    def _enqueue(self, job: _Job) -> None:
        with self._cond:
            if self._stopping:
                raise OverloadedError("the server is shutting down; retry on another replica", retry_after_s=1.0)
            if len(self._pending) + self._active >= self.queue_size:
                self.stats.rejected += 1
                raise OverloadedError(
                    f"the inference queue is full ({self.queue_size} requests); retry shortly",
                    retry_after_s=self._retry_after_s(),
                )
            self._pending.append(job)
            self._cond.notify()

    def _retry_after_s(self) -> float:
        batches_ahead = (len(self._pending) + self._active) / max(self.max_batch, 1) + 1
        return max(1.0, math.ceil(batches_ahead * self._mean_batch_s))

    async def generate(self, model: ServedModel, latents: torch.Tensor) -> np.ndarray:
        """(N, latent_dim) float32 CPU latents -> (N, H, W) float32 images in [-1, 1], computed on the worker."""
        if latents.dim() != 2 or latents.shape[1] != model.latent_dim or latents.shape[0] < 1:
            raise InvalidInputError(f"latents must have shape [N >= 1, {model.latent_dim}], got {list(latents.shape)}")
        loop = asyncio.get_running_loop()
        job = _Job(loop.create_future(), loop, time.perf_counter(), model=model, latents=latents)
        self._enqueue(job)
        result: np.ndarray = await job.future
        return result

    async def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the worker thread (in queue order) and return its result."""
        loop = asyncio.get_running_loop()
        job = _Job(loop.create_future(), loop, time.perf_counter(), call=fn)
        self._enqueue(job)
        result: T = await job.future
        return result

    # the worker -----------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._execute(batch)
            finally:
                with self._cond:
                    self._active -= len(batch)

    def _next_batch(self) -> list[_Job] | None:
        """Block until there is work; None once stopping with nothing left."""
        with self._cond:
            while True:
                while self._pending and self._pending[0].future.done():  # the caller left (e.g. disconnected)
                    self._pending.popleft()
                if self._pending:
                    break
                if self._stopping:
                    return None
                self._cond.wait()
            first = self._pending.popleft()
            batch = [first]
            self._active += 1
            if first.call is None:
                self._gather(batch)
            return batch

    def _gather(self, batch: list[_Job]) -> None:
        """Add queued jobs of the same model; wait up to batch_wait for more if the last batch had company."""
        first = batch[0]
        rows = first.rows
        deadline = first.enqueued_at + self.batch_wait_s
        company_likely = self._last_batch_jobs > 1 or bool(self._pending)
        while rows < self.max_batch:
            rows += self._take_same_model(batch, first.model, self.max_batch - rows)
            remaining = deadline - time.perf_counter()
            others_waiting = bool(self._pending)  # jobs of another model, or too large to fit: do not make them wait
            if rows >= self.max_batch or remaining <= 0 or others_waiting or self._stopping or not company_likely:
                break
            self._cond.wait(remaining)
        self._active += len(batch) - 1  # the first job was counted when it was taken
        self._last_batch_jobs = len(batch)

    def _take_same_model(self, batch: list[_Job], model: ServedModel | None, capacity: int) -> int:
        taken = 0
        kept: deque[_Job] = deque()
        while self._pending:
            job = self._pending.popleft()
            if job.future.done():
                continue
            if job.model is model and job.call is None and job.rows <= capacity - taken:
                batch.append(job)
                taken += job.rows
            else:
                kept.append(job)
        self._pending = kept
        return taken

    def _execute(self, batch: list[_Job]) -> None:
        cpu_started = time.thread_time()
        try:
            self._execute_timed(batch)
        finally:
            if batch[0].call is None:  # calls (loading, compiling, encoders) are not image batches
                with self._stats_lock:
                    self.stats.cpu_s += time.thread_time() - cpu_started

    def _execute_timed(self, batch: list[_Job]) -> None:
        started = time.perf_counter()
        first = batch[0]
        if first.call is not None:
            try:
                result = first.call()
            except BaseException as exc:  # the caller gets the exception; the worker keeps going
                _resolve(first, error=exc)
            else:
                _resolve(first, result)
            with self._stats_lock:
                self.stats.calls += 1
                self.stats.busy_s += time.perf_counter() - started
            return
        model = first.model
        assert model is not None
        try:
            images = self._forward(model, torch.cat([job.latents for job in batch if job.latents is not None]))
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            for job in batch:
                _resolve(job, error=OverloadedError("the GPU is out of memory for this batch; retry shortly", 2.0))
            return
        except BaseException as exc:
            log.exception("forward pass failed for model %s", model.id)
            for job in batch:
                _resolve(job, error=exc)
            return
        offset = 0
        for job in batch:
            _resolve(job, images[offset : offset + job.rows])
            offset += job.rows
        elapsed = time.perf_counter() - started
        self._record(len(images), elapsed, len(batch))

    def _forward(self, model: ServedModel, latents: torch.Tensor) -> np.ndarray:
        """(N, D) -> (N, H, W) float32 numpy, in chunks of `chunk_rows` rows."""
        outputs = []
        with torch.inference_mode():
            for start in range(0, latents.shape[0], self.chunk_rows):
                chunk = latents[start : start + self.chunk_rows].to(model.device, model.dtype, non_blocking=True)
                outputs.append(model.run_forward(chunk)[:, 0].float().cpu())  # (n, H, W)
        return torch.cat(outputs).numpy()

    def _record(self, images: int, elapsed_s: float, jobs: int) -> None:
        with self._stats_lock:
            self._record_locked(images, elapsed_s, jobs)

    def _record_locked(self, images: int, elapsed_s: float, jobs: int) -> None:
        stats = self.stats
        stats.batches += 1
        stats.images += images
        stats.jobs += jobs
        stats.busy_s += elapsed_s
        stats.largest_batch = max(stats.largest_batch, images)
        stats.batch_sizes[images] = stats.batch_sizes.get(images, 0) + 1
        self._mean_batch_s = 0.9 * self._mean_batch_s + 0.1 * elapsed_s
