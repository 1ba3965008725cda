"""The last few volumes built, for a few seconds: the Volume view asks for one volume three ways at once (its json
description, the NIfTI, and the real phantom patient at its levels), which would otherwise build it three times.

Keyed by everything that decides the stack: the model's generator, the set's checksum, the direction as asked, the
base latent (seed or the latent's bytes), slices, path, and the consensus that picks a default direction. A volume
is immutable once built (numpy arrays are not written to), so a hit hands out the same object.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

from latentct.rendering.volumes import Volume

DEFAULT_ENTRIES = 4  # a 64-slice 128-px volume is 4 MiB of float32: 16 MiB at most
DEFAULT_TTL_S = 30.0


class VolumeCache:
    """A small LRU of built volumes that expire after `ttl_s`; thread-safe (the engine's workers share it)."""

    def __init__(self, entries: int = DEFAULT_ENTRIES, ttl_s: float = DEFAULT_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.entries, self.ttl_s, self.clock = entries, ttl_s, clock
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[float, Volume]] = OrderedDict()

    def get_or_build(self, key: Hashable, build: Callable[[], Volume]) -> Volume:
        """The cached volume of `key`, else `build()` (outside the lock) stored under it."""
        found = self._get(key)
        if found is not None:
            return found
        volume = build()
        with self._lock:
            self._items[key] = (self.clock() + self.ttl_s, volume)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return volume

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _get(self, key: Hashable) -> Volume | None:
        with self._lock:
            entry = self._items.get(key)
            if entry is None or entry[0] < self.clock():
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return entry[1]
