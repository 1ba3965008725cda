"""Schemathesis against the served OpenAPI schema: hundreds of generated requests over every operation.

One run feeds three tests: no 5xx at all; every response matches its declared schema (but for one known mismatch,
held in a strict xfail below); and the run did reach every operation.
"""

from __future__ import annotations

import pytest

from tests.hardening.fuzzing import FuzzReport, fuzz, load_schema
from tests.support.serverproc import ADMIN_TOKEN, ServerProcess

EXAMPLES_PER_PASS = 20  # x (positive, negative, positive on served ids) x 19 operations: about 700 requests
KNOWN_422_MISMATCH = "at /components/schemas/HTTPValidationError/properties/detail"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(hardened_server: ServerProcess) -> FuzzReport:
    result = fuzz(hardened_server.base_url, ADMIN_TOKEN, EXAMPLES_PER_PASS, random_seed=20260101)
    print(f"\n{result.requests} requests in {result.seconds:.1f} s\n{result.table()}")
    for operation, status, kind, count, curl in result.failure_summary():
        print(f"{count:4d} x {operation} -> {status}: {kind}\n       {curl[:300]}")
    return result


def _failures(report: FuzzReport, check: str) -> list[str]:
    return [f"{count} x {op} -> {status}: {kind}\n  {curl}" for op, status, kind, count, curl in report.failure_summary()
            if kind.startswith(check)]


def test_every_operation_was_fuzzed(report: FuzzReport, hardened_server: ServerProcess) -> None:
    schema = load_schema(hardened_server.base_url)
    operations = {result.ok().label for result in schema.get_all_operations()}
    assert len(operations) >= 19 and set(report.statuses) == operations
    assert report.requests >= 500
    assert report.by_status()[200] > 0 and report.by_status()[422] > 0


def test_no_input_gets_a_server_error(report: FuzzReport, hardened_server: ServerProcess) -> None:
    assert not [code for code in report.by_status() if code >= 500]
    assert _failures(report, "ServerError") == []
    assert "Traceback" not in hardened_server.log() and "unhandled error" not in hardened_server.log()


def test_responses_match_their_declared_schemas(report: FuzzReport) -> None:
    mismatches = [f for f in _failures(report, "") if "ServerError" not in f and KNOWN_422_MISMATCH not in f]
    assert mismatches == []


def test_422_bodies_match_the_declared_validation_error(report: FuzzReport) -> None:
    assert [f for f in _failures(report, "JsonSchemaError") if KNOWN_422_MISMATCH in f] == []
