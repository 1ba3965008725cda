"""Health, readiness, ModelInfo and DirectionSetInfo shapes, the web app, the OpenAPI page, a broken model folder."""

from __future__ import annotations

from pathlib import Path

import httpx

from latentct.discovery.discover import DiscoveryRequest, discover
from tests.api.conftest import BROKEN_MODEL, LiveServer, settings_for
from tests.factories import make_tiny_models_dir

MODEL_KEYS = {"id", "kind", "latent_dim", "image_size", "hu_range", "description", "direction_sets"}


def test_health_and_ready(client) -> None:
    health = client.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = client.get("/api/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["models"] == ["tiny-gan", "tiny-vae"]
    assert BROKEN_MODEL in body["broken"]


def test_broken_model_is_reported_by_name_and_the_others_serve(client) -> None:
    reason = client.get("/api/health").json()["broken"][BROKEN_MODEL]
    assert "generator.safetensors" in reason and "checksum" in reason
    listed = [m["id"] for m in client.get("/api/models").json()]
    assert BROKEN_MODEL not in listed and listed == ["tiny-gan", "tiny-vae"]
    for path in (f"/api/models/{BROKEN_MODEL}", f"/api/models/{BROKEN_MODEL}/image.png"):
        response = client.get(path)
        assert response.status_code == 404
        assert BROKEN_MODEL in response.json()["detail"] and "failed to load" in response.json()["detail"]
    assert client.get("/api/models/tiny-gan/image.png").status_code == 200


def test_model_info_shapes(client) -> None:
    models = client.get("/api/models").json()
    for info in models:
        assert set(info) >= MODEL_KEYS
        assert info["latent_dim"] == 8 and info["image_size"] == 32 and info["hu_range"] == [-1000.0, 2000.0]
        assert info["intended_use"] == "research only, not for clinical use"
    gan = client.get("/api/models/tiny-gan").json()
    assert gan["kind"] == "gan"
    assert gan["direction_sets"] == [{"id": s, "method": "random", "count": 4, "trained": None} for s in ("random", "sefa")]
    assert client.get("/api/models/tiny-vae").json()["kind"] == "vae"


def test_direction_set_info(client) -> None:
    response = client.get("/api/models/tiny-gan/directions/sefa")
    assert response.status_code == 200
    info = response.json()
    assert {"id", "method", "count", "params", "directions"} <= set(info)
    assert info["id"] == "sefa" and info["count"] == 4 and info["params"] == {"seed": 101}
    assert [d["index"] for d in info["directions"]] == [0, 1, 2, 3]
    assert [d["metrics"] for d in info["directions"]] == [{"score": float(k)} for k in range(4)]
    assert all(d["consensus"] is None for d in info["directions"])  # nobody has labelled it
    assert info["consensus_available"] is True
    missing = client.get("/api/models/tiny-gan/directions/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]


def test_openapi_describes_every_endpoint_and_its_limits(client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/health", "/api/ready", "/api/models", "/api/models/{model}", "/api/models/{model}/directions/{set}",
                 "/api/models/{model}/image.png", "/api/models/{model}/traversal.png", "/api/models/{model}/traversal.gif",
                 "/api/models/{model}/traversal/stream", "/api/models/{model}/render", "/api/models/{model}/encode"):
        assert path in paths, path
    params = {p["name"]: p for p in paths["/api/models/{model}/traversal.png"]["get"]["parameters"]}
    assert params["seed"]["schema"]["maximum"] == 2**31 - 1 and params["seed"]["schema"]["minimum"] == 0
    assert params["steps"]["schema"]["minimum"] == 2 and params["steps"]["schema"]["maximum"] == 64
    assert params["extent"]["schema"]["exclusiveMinimum"] == 0 and params["extent"]["schema"]["maximum"] == 30
    assert params["scale"]["schema"]["maximum"] == 8 and "lung" in params["window"]["description"]
    assert client.get("/docs").status_code == 200


def test_web_app_is_served(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "LatentCT" in page.text


def test_label_routes_are_wired_to_the_registry(client, server) -> None:
    """The label router is included and sees app.state.registry / label_store (its own tests live with it)."""
    assert client.get("/api/vocabulary").status_code == 200
    assert client.get("/api/models/tiny-gan/directions/sefa/agreement").status_code == 401  # issue 19: token needed
    _annotator, token = server.app.state.label_store.create_annotator("wiring check")
    auth = {"Authorization": f"Bearer {token}"}
    agreement = client.get("/api/models/tiny-gan/directions/sefa/agreement", headers=auth)
    assert agreement.status_code == 200 and len(agreement.json()["directions"]) == 4
    assert client.get("/api/models/tiny-gan/directions/nope/agreement", headers=auth).status_code == 404
    assert client.post("/api/labels", json={}).status_code in (401, 422)


def test_direction_vectors_are_the_stored_unit_rows(client, models_dir) -> None:
    from latentct.artifacts import load_direction_set

    response = client.get("/api/models/tiny-gan/directions/sefa/vectors")
    assert response.status_code == 200
    body = response.json()
    stored = load_direction_set(models_dir / "tiny-gan", "sefa")
    assert body["count"] == 4 and body["latent_dim"] == 8 and body["checksum"] == stored.checksum
    assert body["directions"] == stored.directions.tolist()
    etag = response.headers["etag"]
    assert client.get("/api/models/tiny-gan/directions/sefa/vectors", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/api/models/tiny-gan/directions/nope/vectors").status_code == 404


def test_direction_set_consensus_is_blinded(client, server) -> None:
    """Issue 19: consensus only with a token, to admins always and to an annotator for directions they labelled."""
    store = server.app.state.label_store
    identity = server.app.state.registry.direction_set_identity("tiny-gan", "sefa")
    labelled, labelled_token = store.create_annotator("labelled")
    _fresh, fresh_token = store.create_annotator("fresh")
    admin, admin_token = store.create_annotator("admin", role="admin")
    other, _ = store.create_annotator("other")
    store.add_label(other, identity, 0, "rotation", confidence=4, sign=1)
    store.add_label(other, identity, 1, "body_size", confidence=4, sign=1)
    store.add_label(labelled, identity, 0, "rotation", confidence=4, sign=-1)

    def consensus(token: str | None) -> list:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = client.get("/api/models/tiny-gan/directions/sefa", headers=headers)
        assert response.status_code == 200 and response.headers["vary"] == "Authorization"
        return [d["consensus"] for d in response.json()["directions"]]

    assert consensus(None) == [None] * 4
    assert consensus("x" * 43) == [None] * 4  # an unknown token is anonymous here: the route stays public
    assert consensus(fresh_token) == [None] * 4
    mine = consensus(labelled_token)
    assert mine[1:] == [None] * 3
    assert mine[0]["term"] is None and mine[0]["tie"] == [{"term": "rotation", "sign": -1}, {"term": "rotation", "sign": 1}]
    assert mine[0]["n_labels"] == 2 and mine[0]["others"]["n_labels"] == 1 and mine[0]["others"]["sign"] == 1
    seen = consensus(admin_token)
    assert seen[1]["term"] == "body_size" and seen[1]["sign"] == 1 and seen[2] is None
    assert admin.is_admin


def test_model_info_says_how_much_of_its_schedule_a_trained_set_ran(tmp_path: Path) -> None:
    """A Voynov set stopped by its time budget is served with the share of its steps it ran; a finished one with 1."""
    models_dir = make_tiny_models_dir(tmp_path / "models")
    gan = models_dir / "tiny-gan"
    common = {"method": "voynov", "batch_size": 4, "rca_samples": 8}
    budget = discover(gan, DiscoveryRequest(**common, steps=100_000, max_minutes=0.002, set_id="budget"), "cpu", False)
    discover(gan, DiscoveryRequest(**common, steps=2, set_id="whole"), "cpu", False)
    steps_done = budget.card.metrics["steps_done"]
    assert 0 < steps_done < 100_000
    live = LiveServer(settings_for(tmp_path, models_dir)).start()
    try:
        with httpx.Client(base_url=live.base_url, timeout=30) as client:
            sets = {s["id"]: s for s in client.get("/api/models/tiny-gan").json()["direction_sets"]}
    finally:
        live.stop()
    assert sets["budget"] == {"id": "budget", "method": "voynov", "count": 8, "trained": steps_done / 100_000}
    assert sets["whole"]["trained"] == 1.0
    assert sets["random"]["trained"] is None and sets["sefa"]["trained"] is None
