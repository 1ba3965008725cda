"""The image query is read once: the fast path's strict reader, the route's parameters and the socket's JSON agree."""

from __future__ import annotations

import pytest

from latentct.core.errors import InvalidInputError
from latentct.rendering.query import (
    ImageQuery,
    image_query,
    query_from_message,
    query_from_params,
    strict_image_query,
    traversal_query,
)


@pytest.mark.parametrize(
    ("query", "key"),
    [
        (b"", {"seed": 0, "set": None, "shift": [], "window": "full", "scale": 1}),
        (b"seed=12", {"seed": 12, "set": None, "shift": [], "window": "full", "scale": 1}),
        (b"seed=5&set=sefa&shift=1:-2.5&shift=0:1&window=lung&scale=3",
         {"seed": 5, "set": "sefa", "shift": [[0, 1.0], [1, -2.5]], "window": "lung", "scale": 3}),
        (b"window=400%2C40&seed=0007", {"seed": 7, "set": None, "shift": [], "window": "400.0,40.0", "scale": 1}),
        (b"seed=2147483647&set=random&shift=2:0",
         {"seed": 2147483647, "set": "random", "shift": [], "window": "full", "scale": 1}),
    ],
)
def test_plain_queries_are_read_as_the_route_reads_them(query: bytes, key: dict) -> None:
    parsed = strict_image_query(query)
    assert parsed is not None and parsed.key() == key


@pytest.mark.parametrize(
    "query",
    [
        b"seed=1&via=route",  # a parameter the contract does not have (the route ignores it)
        b"seed=1&seed=2",  # given twice
        b"seed=-1", b"seed=abc", b"seed=", b"seed=2147483648", b"seed=%201", b"seed=12345678901",
        b"scale=0", b"scale=9",
        b"set=", b"set=a/b", b"set=" + b"x" * 65,
        b"shift=1:2",  # a shift without a set
        b"set=sefa&shift=1:2&shift=1:3",  # one direction twice
        b"set=sefa&shift=1", b"set=sefa&shift=1:nan", b"set=sefa&shift=1:31",
        b"set=sefa&shift=1:" + b"0" * 4100,  # long values are left to the route
        b"window=foo", b"window=" + b"1" * 65, b"window=0,40",
        b"seed=1&x", b"seed=\xff",
    ],
)
def test_anything_else_is_left_to_the_route(query: bytes) -> None:
    assert strict_image_query(query) is None


def test_the_three_front_ends_give_one_query() -> None:
    from_bytes = strict_image_query(b"seed=9&set=sefa&shift=3:4&shift=1:-2.50&window=Lung&scale=2")
    from_params = query_from_params(9, "sefa", ["1:-2.5", "3:4.0"], "lung", 2)
    from_message = query_from_message(9, "sefa", {"3": 4, "1": -2.5}, "lung", 2)
    assert from_bytes == from_params == from_message
    assert from_params.key() == {"seed": 9, "set": "sefa", "shift": [[1, -2.5], [3, 4.0]], "window": "lung", "scale": 2}


def test_defaults_are_the_contracts() -> None:
    assert image_query() == ImageQuery() and ImageQuery().key() == {
        "seed": 0, "set": None, "shift": [], "window": "full", "scale": 1
    }


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: query_from_params(0, None, ["0:1"], "full", 1), "`set` is required when shifts are given"),
        (lambda: query_from_params(0, "sefa", ["0:1", "0:2"], "full", 1), "direction 0 is shifted twice"),
        (lambda: query_from_params(0, "sefa", ["0"], "full", 1), "must have the form k:v"),
        (lambda: query_from_params(0, None, [], "wide", 1), "window 'wide' is not known"),
        (lambda: query_from_message(0, "sefa", {"0": 31.0}, "full", 1), "abs(value) <= 30"),
        (lambda: query_from_message(0, "sefa", {"x": 1.0}, "full", 1), "direction index 'x'"),
        (lambda: image_query(seed=-1), "seed -1 must be an integer"),
        (lambda: image_query(scale=9), "scale 9 must be an integer in 1..8"),
    ],
)
def test_bad_values_are_named(build, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_a_zero_shift_is_kept_for_checking_but_not_in_the_key() -> None:
    query = query_from_params(1, "sefa", ["7:0"], "full", 1)
    assert query.shifts == {7: 0.0} and query.key()["shift"] == []


def test_traversal_extent_minus_zero_keys_as_zero() -> None:
    assert traversal_query(2, -0.0, 9).key() == {"direction": 2, "extent": 0.0, "steps": 9}
    assert str(traversal_query(2, -0.0, 9).extent) == "0.0"
