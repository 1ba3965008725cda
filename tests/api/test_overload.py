"""A full inference queue answers 503 with Retry-After, and the queued request still completes."""

from __future__ import annotations

import threading

import httpx


def test_full_queue_is_503_with_retry_after(tight_server) -> None:
    results: dict[str, httpx.Response] = {}
    with httpx.Client(base_url=tight_server.base_url, timeout=30) as client:
        with tight_server.engine_blocked():  # the worker holds 1 job; the queue holds at most 2
            waiting = threading.Thread(
                target=lambda: results.setdefault("queued", client.get("/api/models/tiny-gan/image.png", params={"seed": 1}))
            )
            waiting.start()
            engine = tight_server.app.state.engine
            while engine.in_flight < 2:
                threading.Event().wait(0.01)
            refused = client.get("/api/models/tiny-gan/image.png", params={"seed": 2})
            refused_ws_free = client.get("/api/health")
        waiting.join(30)
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) >= 1
        assert "queue is full" in refused.json()["detail"]
        assert refused_ws_free.status_code == 200  # health never queues
        assert results["queued"].status_code == 200
        assert client.get("/api/models/tiny-gan/image.png", params={"seed": 2}).status_code == 200
        assert client.get("/api/health").json()["engine"]["rejected"] >= 1
