"""The live WebSocket: a PNG per message, error frames that keep the socket open, and latest-wins under load."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from websockets.sync.client import connect

from tests.api.helpers import png_pixels


def _image(client, **params: object) -> np.ndarray:
    return png_pixels(client.get("/api/models/tiny-gan/image.png", params=params).content)


def test_live_answers_with_the_same_image_as_image_png(server, client) -> None:
    with connect(f"{server.ws_url}/api/models/tiny-gan/live") as ws:
        ws.send(json.dumps({"seed": 12, "set": "sefa", "shifts": {"1": -2.5}, "window": "lung"}))
        frame = ws.recv(timeout=10)
        assert isinstance(frame, bytes)
        np.testing.assert_array_equal(png_pixels(frame), _image(client, seed=12, set="sefa", shift="1:-2.5", window="lung"))


@pytest.mark.parametrize(
    ("message", "fragment"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (json.dumps({"seed": -1}), "seed"),
        (json.dumps({"seed": "x"}), "seed"),
        (json.dumps({"seed": 1, "set": "nope"}), "nope"),
        (json.dumps({"seed": 1, "shifts": {"0": 1}}), "`set` is required"),
        (json.dumps({"seed": 1, "set": "sefa", "shifts": {"9": 1}}), "no direction 9"),
        (json.dumps({"seed": 1, "set": "sefa", "shifts": {"0": 31}}), "abs(value) <= 30"),
        ('{"seed": 1, "set": "sefa", "shifts": {"0": NaN}}', "finite"),
        (json.dumps({"seed": 1, "window": "W,L"}), "window"),
        (json.dumps({"seed": 1, "colour": "red"}), "colour"),
    ],
)
def test_bad_message_gets_an_error_frame_and_the_socket_stays_open(server, message: str, fragment: str) -> None:
    with connect(f"{server.ws_url}/api/models/tiny-gan/live") as ws:
        ws.send(message)
        reply = ws.recv(timeout=10)
        assert isinstance(reply, str)
        assert fragment in json.loads(reply)["error"]
        ws.send(json.dumps({"seed": 1}))
        assert isinstance(ws.recv(timeout=10), bytes)


def test_binary_message_is_an_error(server) -> None:
    with connect(f"{server.ws_url}/api/models/tiny-gan/live") as ws:
        ws.send(b"\x00\x01")
        assert "JSON text" in json.loads(ws.recv(timeout=10))["error"]


def test_unknown_model_closes_with_a_reason(server) -> None:
    with connect(f"{server.ws_url}/api/models/nope/live") as ws:
        assert "nope" in json.loads(ws.recv(timeout=10))["error"]
        with pytest.raises(Exception):  # noqa: B017 - the server closed the socket (4404)
            ws.recv(timeout=10)
        assert ws.close_code == 4404


def test_latest_wins(server, client) -> None:
    """While the engine is busy, 10 requests arrive: the one being rendered and then only the newest are answered."""
    expected_last = _image(client, seed=109)
    expected_first = _image(client, seed=100)
    with connect(f"{server.ws_url}/api/models/tiny-gan/live") as ws:
        with server.engine_blocked():
            ws.send(json.dumps({"seed": 100}))
            time.sleep(0.3)  # the renderer takes seed 100 and waits for the engine
            for seed in range(101, 110):
                ws.send(json.dumps({"seed": seed}))
            time.sleep(0.3)  # the server reads the other nine meanwhile; each supersedes the one before
        frames = [ws.recv(timeout=10), ws.recv(timeout=10)]
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)  # nothing else: seeds 101..108 were dropped as stale
    np.testing.assert_array_equal(png_pixels(frames[0]), expected_first)
    np.testing.assert_array_equal(png_pixels(frames[1]), expected_last)
