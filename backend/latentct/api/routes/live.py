"""WS /models/{model}/live: slider-speed rendering where the latest request wins.

A reader task parses each message as it arrives and keeps only the newest valid one; a renderer task renders whatever
is newest when it is free. Requests superseded while a frame was rendering are dropped, so a client dragging a
slider gets the frame for where the slider is, not a backlog. A bad message is answered by a text frame
`{"error": ...}` and the socket stays open.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from latentct.api.deps import admission_of, engine_of, registry_of
from latentct.api.errors import describe_validation_error
from latentct.api.schemas import LiveMessage
from latentct.core.errors import LatentCTError
from latentct.rendering.admission import RenderAdmission
from latentct.rendering.engine import InferenceEngine
from latentct.rendering.pipeline import render_image, resolve_set
from latentct.rendering.query import ImageQuery, query_from_message
from latentct.rendering.registry import ServedDirectionSet, ServedModel

log = logging.getLogger(__name__)
router = APIRouter(tags=["live"])
MAX_MESSAGE_CHARS = 64 * 1024
CLOSE_UNKNOWN_MODEL = 4404  # 4000 + the HTTP status, by the common convention for application close codes


@dataclass(frozen=True)
class LiveRequest:
    query: ImageQuery
    direction_set: ServedDirectionSet | None  # resolved when read, so an unknown set is answered at once


def parse_live_message(text: str | None, model: ServedModel) -> LiveRequest:
    """A message -> what to render; raises ValueError / LatentCTError with a message for the client."""
    if text is None:
        raise ValueError('send JSON text messages like {"seed": 1, "set": "sefa", "shifts": {"0": 2.5}, "window": "lung"}')
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValueError(f"message of {len(text)} characters; at most {MAX_MESSAGE_CHARS}")
    try:
        message = LiveMessage.model_validate_json(text)
    except ValidationError as exc:
        raise ValueError("; ".join(describe_validation_error(dict(e), subject="message") for e in exc.errors()[:5])) from None
    query = query_from_message(message.seed, message.set, message.shifts, message.window, message.scale)
    return LiveRequest(query, resolve_set(model, query.set_id, query.shifts))


async def _render(admission: RenderAdmission, engine: InferenceEngine, model: ServedModel, request: LiveRequest) -> bytes:
    # The render budget as for image.png: scale 8 frames are encoded off the event loop and can be refused.
    return await render_image(admission, engine, model, request.query, request.direction_set)


class _LiveSession:
    def __init__(self, websocket: WebSocket, engine: InferenceEngine, model: ServedModel) -> None:
        self.websocket = websocket
        self.engine = engine
        self.admission = admission_of(websocket)
        self.model = model
        self.latest: LiveRequest | None = None
        self.wake = asyncio.Event()
        self.send_lock = asyncio.Lock()

    async def send_error(self, message: str) -> None:
        async with self.send_lock:
            await self.websocket.send_text(json.dumps({"error": message}))

    async def read(self) -> None:
        while True:
            event = await self.websocket.receive()
            if event["type"] == "websocket.disconnect":
                return
            try:
                request = parse_live_message(event.get("text"), self.model)
            except (ValueError, LatentCTError) as exc:
                await self.send_error(str(exc))
                continue
            self.latest = request  # supersedes a request not yet rendered
            self.wake.set()

    async def render(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            request, self.latest = self.latest, None
            if request is None:
                continue
            try:
                png = await _render(self.admission, self.engine, self.model, request)
            except LatentCTError as exc:  # overloaded, shutting down: tell the client, keep the socket
                await self.send_error(str(exc))
                continue
            async with self.send_lock:
                await self.websocket.send_bytes(png)


@router.websocket("/models/{model}/live")
async def live(websocket: WebSocket, model: str) -> None:
    """Client sends {"seed", "set", "shifts": {"k": v}, "window", "scale"}; server answers the newest with a PNG."""
    engine = engine_of(websocket)
    await websocket.accept()
    try:
        served = registry_of(websocket).get(model)
    except LatentCTError as exc:
        await websocket.send_text(json.dumps({"error": str(exc)}))
        await websocket.close(code=CLOSE_UNKNOWN_MODEL, reason="unknown model"[:120])
        return
    session = _LiveSession(websocket, engine, served)
    tasks = {asyncio.create_task(session.read()), asyncio.create_task(session.render())}
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)  # the reader ends on disconnect
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, WebSocketDisconnect):
                pass
            except Exception as exc:  # a send on a socket the client just closed; nothing to answer any more
                log.debug("live socket for %s ended: %r", model, exc)
