"""The inference engine (coalescing, bounds, chunking, drain on close) and the model registry (broken folders, ids)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from latentct.artifacts.catalog import SetIdentity
from latentct.core.errors import InvalidInputError, NotFoundError, OverloadedError
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.errors import NotReadyError
from latentct.rendering.registry import ModelRegistry, ServedModel, load_served_model
from tests.factories import make_tiny_model, make_tiny_models_dir


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_models_dir(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def gan(models_dir: Path) -> ServedModel:
    return load_served_model(models_dir / "tiny-gan", torch.device("cpu"), half_precision="off")


@pytest.fixture(scope="module")
def vae(models_dir: Path) -> ServedModel:
    return load_served_model(models_dir / "tiny-vae", torch.device("cpu"), half_precision="off")


def reference(model: ServedModel, latents: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return model.generator(latents)[:, 0].numpy()


async def _blocked(engine: InferenceEngine) -> tuple[threading.Event, asyncio.Future[None]]:
    release, started = threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        release.wait(10)

    blocker = asyncio.ensure_future(engine.call(block))
    await asyncio.to_thread(started.wait, 10)
    return release, blocker


def test_concurrent_requests_for_one_model_are_one_batch(gan: ServedModel, vae: ServedModel) -> None:
    latents = [torch.randn(n, 8, generator=torch.Generator().manual_seed(n)) for n in (1, 3, 2)]

    async def scenario() -> list[np.ndarray]:
        engine = InferenceEngine(torch.device("cpu"), max_batch=64, batch_wait_s=0.0).start()
        release, blocker = await _blocked(engine)
        jobs = [asyncio.ensure_future(engine.generate(gan, z)) for z in latents]
        other = asyncio.ensure_future(engine.generate(vae, latents[0]))
        await asyncio.sleep(0.05)
        release.set()
        results = await asyncio.gather(*jobs, other, blocker)
        await engine.close()
        assert engine.stats.batches == 2 and engine.stats.largest_batch == 6  # gan 1+3+2 together, vae alone
        return results[:4]

    outputs = asyncio.run(scenario())
    for z, out in zip(latents, outputs[:3], strict=True):
        assert out.shape == (z.shape[0], 32, 32)
        np.testing.assert_allclose(out, reference(gan, z), atol=1e-5)
    np.testing.assert_allclose(outputs[3], reference(vae, latents[0]), atol=1e-5)


def test_queue_bound_and_retry_after(gan: ServedModel) -> None:
    async def scenario() -> None:
        engine = InferenceEngine(torch.device("cpu"), queue_size=3, batch_wait_s=0.0).start()
        release, blocker = await _blocked(engine)
        queued = [asyncio.ensure_future(engine.generate(gan, torch.zeros(1, 8))) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(OverloadedError) as refused:
            await engine.generate(gan, torch.zeros(1, 8))
        assert refused.value.retry_after_s >= 1
        release.set()
        await asyncio.gather(blocker, *queued)
        await engine.close()
        assert engine.stats.rejected == 1

    asyncio.run(scenario())


def test_large_requests_are_chunked_and_bad_shapes_refused(gan: ServedModel) -> None:
    z = torch.randn(10, 8, generator=torch.Generator().manual_seed(0))

    async def scenario() -> np.ndarray:
        engine = InferenceEngine(torch.device("cpu"), max_batch=4).start()
        with pytest.raises(InvalidInputError, match="shape"):
            await engine.generate(gan, torch.zeros(1, 7))
        out = await engine.generate(gan, z)
        await engine.close()
        return out

    np.testing.assert_allclose(asyncio.run(scenario()), reference(gan, z), atol=1e-5)


def test_cancelled_requests_are_dropped_and_close_drains_the_queue(gan: ServedModel) -> None:
    async def scenario() -> None:
        engine = InferenceEngine(torch.device("cpu"), batch_wait_s=0.0).start()
        release, blocker = await _blocked(engine)
        gone = asyncio.ensure_future(engine.generate(gan, torch.zeros(5, 8)))
        kept = asyncio.ensure_future(engine.generate(gan, torch.zeros(2, 8)))
        await asyncio.sleep(0)
        gone.cancel()
        release.set()
        closing = asyncio.ensure_future(engine.close())
        assert (await kept).shape == (2, 32, 32)  # queued before close: still answered
        await closing
        await blocker
        assert engine.stats.images == 2  # the cancelled 5 rows were never computed
        with pytest.raises(OverloadedError, match="shutting down"):
            await engine.generate(gan, torch.zeros(1, 8))

    asyncio.run(scenario())


def test_call_errors_reach_the_caller(gan: ServedModel) -> None:
    async def scenario() -> None:
        engine = InferenceEngine(torch.device("cpu")).start()
        with pytest.raises(ZeroDivisionError):
            await engine.call(lambda: 1 / 0)
        assert await engine.call(lambda: 41 + 1) == 42
        await engine.close()

    asyncio.run(scenario())


def test_registry_loads_reports_broken_folders_and_sets(tmp_path: Path) -> None:
    models_dir = make_tiny_models_dir(tmp_path)
    broken = make_tiny_model(models_dir, "broken-gan", "gan", seed=5)
    (broken / "generator.safetensors").write_bytes(b"not safetensors")
    (models_dir / "tiny-vae" / "directions" / "random.safetensors").write_bytes(b"\0" * 10)
    registry = ModelRegistry(models_dir, torch.device("cpu"), half_precision="off")
    with pytest.raises(NotReadyError):
        registry.get("tiny-gan")
    registry.load_all()
    registry.mark_ready()
    assert [m.id for m in registry.models()] == ["tiny-gan", "tiny-vae"]
    assert "generator.safetensors" in registry.broken["broken-gan"]
    with pytest.raises(NotFoundError, match="failed to load"):
        registry.get("broken-gan")
    with pytest.raises(NotFoundError, match="failed to load"):
        registry.direction_set("tiny-vae", "random")
    with pytest.raises(InvalidInputError, match="not a valid id"):
        registry.get("../tiny-gan")
    with pytest.raises(NotFoundError, match="served models: tiny-gan, tiny-vae"):
        registry.get("nope")
    identity = registry.direction_set_identity("tiny-gan", "sefa")
    gan = registry.get("tiny-gan")
    assert identity == SetIdentity("tiny-gan", gan.generator_checksum, "sefa", gan.sets["sefa"].checksum, 4)
    assert gan.dtype == torch.float32 and gan.backend_key == "cpu-float32-channels_last-fused"
    assert registry.get("tiny-vae").backend_key == "cpu-float32-channels_last-fused"
    assert not any(p.requires_grad for p in gan.generator.parameters())


@pytest.mark.parametrize("model_id", ["tiny-vae", "tiny-gan"])
def test_reduced_precision_only_within_tolerance(models_dir: Path, model_id: str) -> None:
    from latentct.rendering.registry import half_tolerance_hu, reduced_precision_dtype

    reduced = reduced_precision_dtype(torch.device("cpu"))
    served = load_served_model(models_dir / model_id, torch.device("cpu"), half_precision="auto")
    reference = load_served_model(models_dir / model_id, torch.device("cpu"), half_precision="off")
    assert reference.dtype == torch.float32 and reference.half_error_hu is None
    if reduced is None:
        assert served.dtype == torch.float32
        pytest.skip("this CPU has no native bfloat16; the reduced path is not used here")
    assert served.half_error_hu is not None
    assert (served.dtype == reduced) == (served.half_error_hu <= half_tolerance_hu(served.hu_range))
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(3))

    async def both() -> tuple[np.ndarray, np.ndarray]:
        engine = InferenceEngine(torch.device("cpu")).start()
        result = await engine.generate(served, z), await engine.generate(reference, z)
        await engine.close()
        return result

    fast, exact = asyncio.run(both())
    assert fast.dtype == np.float32
    assert np.abs(fast - exact).max() * 1500 <= half_tolerance_hu(served.hu_range) + 1e-3
    assert served.backend_key == f"cpu-{str(served.dtype).removeprefix('torch.')}-channels_last-fused"
    forced = load_served_model(models_dir / model_id, torch.device("cpu"), half_precision="on")
    assert forced.dtype == reduced and forced.half_error_hu == served.half_error_hu  # the same check, whatever it found
    with torch.inference_mode():  # the served form in reduced precision computes what the eager network computes in it
        z16 = z.to(reduced)
        np.testing.assert_allclose(forced.run_forward(z16).float().numpy(), forced.generator(z16).float().numpy(), atol=1e-3)


def test_several_engine_threads_compute_at_once_and_count_exactly(gan: ServedModel) -> None:
    """threads=2: two calls meet at a barrier (one worker alone would never get past it); then many concurrent
    requests are all answered correctly, in-flight returns to 0, and the counters add up."""
    latents = [torch.randn(2, 8, generator=torch.Generator().manual_seed(100 + i)) for i in range(40)]

    async def scenario() -> list[np.ndarray]:
        engine = InferenceEngine(torch.device("cpu"), max_batch=4, batch_wait_s=0.0, threads=2).start()
        barrier = threading.Barrier(2, timeout=10)

        def meet() -> str:
            barrier.wait()
            return threading.current_thread().name

        names = await asyncio.gather(*(engine.call(meet) for _ in range(2)))
        assert sorted(names) == ["latentct-engine-cpu-0", "latentct-engine-cpu-1"]
        outputs = await asyncio.gather(*(engine.generate(gan, z) for z in latents))
        for _ in range(200):  # a worker answers its callers first, then counts its batch as done
            if engine.in_flight == 0:
                break
            await asyncio.sleep(0.01)
        assert engine.in_flight == 0
        await engine.close()
        assert engine.stats.images == 80 and engine.stats.jobs == 40 and engine.stats.calls == 2
        assert sum(size * count for size, count in engine.stats.batch_sizes.items()) == 80
        return outputs

    for z, out in zip(latents, asyncio.run(scenario()), strict=True):
        np.testing.assert_allclose(out, reference(gan, z), atol=1e-5)


def test_engine_threads_must_be_positive() -> None:
    with pytest.raises(InvalidInputError, match="threads 0"):
        InferenceEngine(torch.device("cpu"), threads=0)
