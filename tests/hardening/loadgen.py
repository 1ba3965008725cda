"""A mixed load on loopback: N concurrent clients, each on its own connection, for a fixed time.

Each client picks, request by request, an image (fresh seed, so no cache helps), a traversal strip (9 or 33 frames)
or a label write with its own annotator token, in the proportions of `Mix`. Every answer is recorded with its
latency; anything but 200 (images) or 201 (labels) is an error. Shared by tests/hardening/test_load.py (short, no
timings asserted) and bench/bench_load.py (long, prints the numbers).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx
import numpy as np

KINDS = ("image", "strip", "label")


@dataclass(frozen=True)
class Mix:
    image: float = 0.6
    strip: float = 0.25
    label: float = 0.15

    def pick(self, rng: random.Random) -> str:
        return rng.choices(KINDS, weights=(self.image, self.strip, self.label))[0]


@dataclass(frozen=True)
class Target:
    """What the load may ask for: models with their sets and direction counts, and the label terms."""

    sets: list[tuple[str, str, int]]  # (model id, set id, direction count)
    terms: list[str]

    @classmethod
    def discover(cls, client: httpx.Client) -> Target:
        sets = []
        for model in client.get("/api/models").json():
            sets += [(model["id"], s["id"], s["count"]) for s in model["direction_sets"]]
        terms = [t["id"] for t in client.get("/api/vocabulary").json() if not t["requires_text"]]
        assert sets and terms, "the server serves no direction set or has no vocabulary"
        return cls(sets=sets, terms=terms)


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[str] = field(default_factory=list)
    label_ids: list[int] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(sum(c.values()) for c in self.statuses.values())

    def percentile_ms(self, kind: str, q: float) -> float:
        values = self.latencies_s.get(kind) or [float("nan")]
        return float(np.percentile(np.asarray(values), q) * 1000.0)

    def table(self) -> str:
        lines = ["| kind | requests | p50 ms | p99 ms | statuses |", "| --- | ---: | ---: | ---: | --- |"]
        for kind in (*KINDS, "all"):
            if kind == "all":
                latencies = [x for k in KINDS for x in self.latencies_s.get(k, [])]
                statuses: Counter[int] = sum((self.statuses[k] for k in KINDS if k in self.statuses), Counter())
            else:
                latencies, statuses = self.latencies_s.get(kind, []), self.statuses.get(kind, Counter())
            if not latencies:
                continue
            p50, p99 = (float(np.percentile(latencies, q) * 1000.0) for q in (50, 99))
            shown = ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
            lines.append(f"| {kind} | {len(latencies)} | {p50:.1f} | {p99:.1f} | {shown} |")
        return "\n".join(lines)


async def _client_loop(
    base_url: str, token: str, target: Target, mix: Mix, deadline: float, rng: random.Random, result: LoadResult
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=httpx.Limits(max_connections=1)) as client:
        while time.monotonic() < deadline:
            kind = mix.pick(rng)
            model, set_id, count = rng.choice(target.sets)
            seed = rng.randrange(2**31 - 1)
            started = time.perf_counter()
            try:
                if kind == "image":
                    shift = f"{rng.randrange(count)}:{rng.uniform(-6, 6):.3f}"
                    response = await client.get(f"/api/models/{model}/image.png",
                                                params={"seed": seed, "set": set_id, "shift": shift})
                elif kind == "strip":
                    params: dict[str, str | int] = {
                        "seed": seed, "set": set_id, "direction": rng.randrange(count), "steps": rng.choice((9, 33))
                    }
                    response = await client.get(f"/api/models/{model}/traversal.png", params=params)
                else:
                    body = {"model": model, "set": set_id, "direction": rng.randrange(count), "term": rng.choice(target.terms),
                            "confidence": rng.randint(1, 5), "polarity": rng.choice(("", "larger", "smaller"))}
                    response = await client.post("/api/labels", json=body, headers=headers)
            except httpx.HTTPError as exc:
                result.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                continue
            result.latencies_s[kind].append(time.perf_counter() - started)
            result.statuses[kind][response.status_code] += 1
            expected = 201 if kind == "label" else 200
            if response.status_code != expected:
                result.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")
            elif kind == "label":
                result.label_ids.append(int(response.json()["id"]))


async def run_load(base_url: str, tokens: list[str], target: Target, seconds: float, mix: Mix | None = None,
                   seed: int = 0) -> LoadResult:
    """One client per token, all at once, for `seconds`."""
    result = LoadResult()
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(
        _client_loop(base_url, token, target, mix or Mix(), deadline, random.Random(seed * 1000 + i), result)
        for i, token in enumerate(tokens)
    ))
    result.seconds = time.monotonic() - started
    return result
