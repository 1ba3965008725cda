"""Schemathesis (v4) against the server's own OpenAPI schema, over real HTTP: every operation, valid and invalid input.

For each operation and each generation mode (positive: requests the schema allows; negative: requests it forbids)
Hypothesis draws `examples` cases; each is sent with an admin bearer token (the label endpoints need one) and checked
with `not_a_server_error` (no 5xx) and `response_schema_conformance` (the body matches the declared response). No
case stops the run: every failure is collected with a curl line to replay it. Shared by tests/hardening/test_fuzz.py
and bench/bench_fuzz.py.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

CHECKS = [not_a_server_error, response_schema_conformance]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
STREAM_SUFFIX = "/traversal/stream"
# a paced stream lasts frames / fps seconds: keep the valid ones short so the run measures breadth, not waiting
STREAM_QUERY_POSITIVE = {"fps": 30, "loops": 1, "steps": 2}
STREAM_QUERY_NEGATIVE = {"fps": 30, "loops": 1}
SERVED_QUERY = {"set": "random", "window": "lung"}


@dataclass(frozen=True)
class Failure:
    operation: str
    mode: str
    status: int
    message: str
    curl: str


def _failure_kind(message: str) -> str:
    """The class of a failure without its random input: the check's name and, for schema errors, where in the schema."""
    kind = message.split(":", 1)[0]
    if "Schema at " in message:
        kind += " at " + message.split("Schema at ", 1)[1].split(":", 1)[0]
    return kind


@dataclass
class FuzzReport:
    seconds: float = 0.0
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[Failure] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(sum(c.values()) for c in self.statuses.values())

    def by_status(self) -> Counter[int]:
        return sum(self.statuses.values(), Counter())

    def failure_summary(self) -> list[tuple[str, int, str, int, str]]:
        """(operation, status, kind, count, one curl to replay) per distinct kind of failure."""
        groups: dict[tuple[str, int, str], list[Failure]] = defaultdict(list)
        for failure in self.failures:
            groups[(failure.operation, failure.status, _failure_kind(failure.message))].append(failure)
        return [(op, status, kind, len(items), items[0].curl) for (op, status, kind), items in sorted(groups.items())]

    def table(self) -> str:
        codes = sorted(self.by_status())
        lines = ["| operation | requests | " + " | ".join(str(c) for c in codes) + " |",
                 "| --- | ---: | " + " | ".join("---:" for _ in codes) + " |"]
        for operation in sorted(self.statuses):
            counts = self.statuses[operation]
            cells = " | ".join(str(counts.get(c, 0)) for c in codes)
            lines.append(f"| {operation} | {sum(counts.values())} | {cells} |")
        total = self.by_status()
        lines.append(f"| all | {self.requests} | " + " | ".join(str(total[c]) for c in codes) + " |")
        return "\n".join(lines)


def load_schema(base_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=30)


def _fixed_query(label: str, mode: GenerationMode, served: bool) -> dict[str, Any] | None:
    """Query values held fixed: short streams; on the served-ids pass also a served set and a valid window, because
    `shift` and `window` are free strings in the schema and random text almost never parses."""
    query: dict[str, Any] = {}
    if label.endswith(STREAM_SUFFIX):
        query.update(STREAM_QUERY_POSITIVE if mode is GenerationMode.POSITIVE else STREAM_QUERY_NEGATIVE)
    if served and label.startswith("GET ") and ("/image.png" in label or "/traversal" in label):
        query.update(SERVED_QUERY)
    return query or None


def _first_line(failure: FailureGroup) -> str:
    messages = [f"{type(e).__name__}: {getattr(e, 'title', '')} {getattr(e, 'message', '')}".strip() for e in failure.exceptions]
    return " / ".join(messages)[:600]


def _exerciser(base_url: str, session: requests.Session, headers: dict[str, str], report: FuzzReport, label: str,
               mode: str) -> Callable[[Any], None]:
    """The body Hypothesis runs per case: send it, count its status, collect (never raise) check failures."""

    def exercise(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=60)
        report.statuses[label][response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as failure:
            curl = case.as_curl_command(headers=headers)
            report.failures.append(Failure(label, mode, response.status_code, _first_line(failure), curl))

    return exercise


def _passes(label: str, known_paths: dict[str, str]) -> list[tuple[GenerationMode, dict[str, str] | None]]:
    """Positive and negative generation; for operations under /models/{model}, also positive cases on served ids
    (random path segments almost never name a served model, and the rendering code behind them deserves fuzzing too)."""
    passes: list[tuple[GenerationMode, dict[str, str] | None]] = [(mode, None) for mode in MODES]
    names = [name for name in known_paths if "{" + name + "}" in label]
    if names:
        passes.append((GenerationMode.POSITIVE, {name: known_paths[name] for name in names}))
    return passes


def fuzz(base_url: str, admin_token: str, examples: int, random_seed: int = 0,
         known_paths: dict[str, str] | None = None, progress: Callable[[str], None] | None = None) -> FuzzReport:
    """`examples` cases per operation and pass against the server at `base_url`.

    `known_paths` maps path parameters to served ids (default model tiny-gan, set random) for the third pass.
    """
    known_paths = known_paths if known_paths is not None else {"model": "tiny-gan", "set": "random"}
    schema = load_schema(base_url)
    report = FuzzReport()
    headers = {"Authorization": f"Bearer {admin_token}"}
    started = time.monotonic()
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            for mode, path_parameters in _passes(operation.label, known_paths):
                query = _fixed_query(operation.label, mode, served=path_parameters is not None)
                strategy = operation.as_strategy(generation_mode=mode, query=query, path_parameters=path_parameters)
                pass_name = mode.value + (" (served ids)" if path_parameters else "")
                exercise = _exerciser(base_url, session, headers, report, operation.label, pass_name)
                run = seed(random_seed)(settings(
                    max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )(given(case=strategy)(exercise)))
                with contextlib.suppress(Unsatisfiable):  # nothing to negate (an operation without parameters)
                    run()
                if progress is not None:
                    progress(f"{operation.label} [{pass_name}]: {sum(report.statuses[operation.label].values())} requests")
    report.seconds = time.monotonic() - started
    return report
