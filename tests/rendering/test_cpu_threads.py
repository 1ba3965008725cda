"""How many engine and torch threads a serving process resolves to, from its settings, workers and cores."""

from __future__ import annotations

from latentct.rendering.cpu_threads import resolve_engine_threads, resolve_torch_threads


def test_engine_threads_auto_is_two_where_a_process_has_two_cores() -> None:
    assert [resolve_engine_threads(0, workers=1, cores=c) for c in (1, 2, 3, 16)] == [1, 2, 2, 2]
    assert resolve_engine_threads(0, workers=2, cores=2) == 1 and resolve_engine_threads(0, workers=2, cores=4) == 2
    assert resolve_engine_threads(3, workers=8, cores=1) == 3  # a setting is kept as given


def test_torch_threads_leave_each_event_loop_a_core_and_share_the_rest() -> None:
    assert resolve_torch_threads(0, workers=1, engine_threads=2, cores=2) == 1  # this machine: 2 engine threads x 1
    assert resolve_torch_threads(0, workers=1, engine_threads=2, cores=16) == 7
    assert resolve_torch_threads(0, workers=2, engine_threads=1, cores=16) == 7
    assert resolve_torch_threads(0, workers=4, engine_threads=1, cores=2) == 1  # at least one
    assert resolve_torch_threads(5, workers=4, engine_threads=3, cores=2) == 5  # a setting is kept as given


def test_torch_threads_on_a_gpu_are_one_unless_set() -> None:
    # measured on an H200, 16 cores: 0.92 ms of server CPU per image with 1 thread (1271 images/s), 8.64 ms with 15 (1204)
    assert resolve_torch_threads(0, workers=1, engine_threads=1, cores=16, device_type="cuda") == 1
    assert resolve_torch_threads(6, workers=1, engine_threads=1, cores=16, device_type="cuda") == 6
