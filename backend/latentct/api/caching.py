"""HTTP caching of rendered images: strong ETags from what decides the bytes, If-None-Match, and a bounded LRU.

The ETag hashes the generator checksum, the direction set checksum, the normalised query, the endpoint and the
render backend (device, dtype, serving form, compiled or not): the same model files and query give the same tag. The
LRU keeps the first bytes rendered for a tag, so within a process a tag always names one byte string even where
batched float arithmetic could differ in a last bit between batch sizes.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Response

CACHE_CONTROL = "public, max-age=31536000, immutable"
# Bump when the pipeline changes the bytes for the same query (windowing, encoding). 2: our own PNG writer (the
# average filter on every row, zlib RLE) instead of Pillow's. A test pins the filtered scanlines against this number.
RENDER_VERSION = 2


def make_etag(parts: Mapping[str, Any]) -> str:
    """A strong ETag: quoted sha256 prefix (128 bits) of the canonical JSON of `parts`."""
    canonical = json.dumps({**parts, "render_version": RENDER_VERSION}, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x"; "*" matches anything."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.removeprefix("W/") == etag:
            return True
    return False


def cache_headers(etag: str) -> dict[str, str]:
    return {"ETag": etag, "Cache-Control": CACHE_CONTROL}


def not_modified(etag: str, extra_headers: Mapping[str, str] | None = None) -> Response:
    return Response(status_code=304, headers={**cache_headers(etag), **(extra_headers or {})})


@dataclass(frozen=True)
class CachedImage:
    body: bytes
    media_type: str
    headers: dict[str, str]


class ResponseCache:
    """Rendered responses by ETag, least recently used evicted first, bounded in bytes (0 disables it).

    Used from the event loop only, so it needs no lock.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.max_item_bytes = max_bytes // 8
        self._items: OrderedDict[str, CachedImage] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, etag: str) -> CachedImage | None:
        item = self._items.get(etag)
        if item is None:
            self.misses += 1
            return None
        self._items.move_to_end(etag)
        self.hits += 1
        return item

    def put(self, etag: str, item: CachedImage) -> CachedImage:
        """Store `item` unless an entry exists (the first bytes win); return what is stored under `etag`."""
        existing = self._items.get(etag)
        if existing is not None:
            return existing
        size = len(item.body)
        if size > self.max_item_bytes:
            return item
        self._items[etag] = item
        self._bytes += size
        while self._bytes > self.max_bytes and self._items:
            _, evicted = self._items.popitem(last=False)
            self._bytes -= len(evicted.body)
        return item

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._items), "bytes": self._bytes, "hits": self.hits, "misses": self.misses}
