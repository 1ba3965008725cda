"""The image.png fast path answers exactly what the route answers, and leaves everything else to the route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import LiveServer, settings_for

GAN = "/api/models/tiny-gan/image.png"


# How the fast path reads a query string: tests/rendering/test_query.py.


@pytest.fixture(scope="module")
def uncached(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server without the response cache, so both paths compute their own bytes."""
    live = LiveServer(settings_for(tmp_path_factory.mktemp("uncached"), models_dir, response_cache_mb=0)).start()
    yield live
    live.stop()


def fast_answers(live: LiveServer) -> int:
    return int(getattr(live.app.state, "fast_image_responses", 0))


@pytest.mark.parametrize(
    "params",
    [
        {"seed": 3},
        {"seed": 9, "set": "sefa", "shift": ["1:-2.5", "3:4"]},
        {"seed": 11, "window": "mediastinum", "scale": 2},
        {"seed": 11, "window": "400,40"},
    ],
)
def test_the_fast_path_answers_the_routes_bytes_and_headers(uncached: LiveServer, params: dict) -> None:
    with httpx.Client(base_url=uncached.base_url, timeout=30) as client:
        before = fast_answers(uncached)
        fast = client.get(GAN, params=params)
        assert fast_answers(uncached) == before + 1, "the fast path did not answer"
        routed = client.get(GAN, params={**params, "via": "route"})  # an unknown parameter: the route answers
        assert fast_answers(uncached) == before + 1
        assert fast.status_code == routed.status_code == 200
        assert fast.content == routed.content
        assert {k: v for k, v in fast.headers.items() if k != "date"} == {k: v for k, v in routed.headers.items() if k != "date"}
        etag = {"If-None-Match": fast.headers["etag"]}
        fast_304 = client.get(GAN, params=params, headers=etag)
        routed_304 = client.get(GAN, params={**params, "via": "route"}, headers=etag)
        assert fast_304.status_code == routed_304.status_code == 304 and fast_304.headers["etag"] == routed_304.headers["etag"]
        assert fast_answers(uncached) == before + 2


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        (GAN, {"seed": -1}, 422),
        (GAN, {"seed": "x"}, 422),
        (GAN, {"set": "nope"}, 404),  # answered by the fast path, as the route's handler would
        (GAN, {"set": "sefa", "shift": "99:1"}, 404),  # likewise
        (GAN, {"shift": "1:1"}, 422),
        (GAN, {"window": "wide"}, 422),
        ("/api/models/nope/image.png", {"seed": 1}, 404),
        ("/api/models/tiny-broken/image.png", {"seed": 1}, 404),
    ],
)
def test_bad_requests_get_the_routes_errors(uncached: LiveServer, path: str, params: dict, status: int) -> None:
    with httpx.Client(base_url=uncached.base_url, timeout=30) as client:
        response, routed = client.get(path, params=params), client.get(path, params={**params, "via": "route"})
    assert response.status_code == routed.status_code == status and response.json()["detail"]
    assert response.json() == routed.json() and response.headers.get("retry-after") == routed.headers.get("retry-after")


def test_a_full_queue_is_refused_once_by_the_fast_path(models_dir: Path, tmp_path: Path) -> None:
    """503 with Retry-After, counted as one rejection: the request is not enqueued again by the route."""
    live = LiveServer(settings_for(tmp_path, models_dir, queue_size=1, response_cache_mb=0, engine_threads=1)).start()
    try:
        with httpx.Client(base_url=live.base_url, timeout=30) as client, live.engine_blocked():
            engine = live.app.state.engine
            rejected, before = engine.stats.rejected, fast_answers(live)
            response = client.get(GAN, params={"seed": 5})
            assert response.status_code == 503 and response.headers["retry-after"]
            assert "queue is full" in response.json()["detail"]
            assert engine.stats.rejected == rejected + 1 and fast_answers(live) == before + 1
    finally:
        live.stop()
