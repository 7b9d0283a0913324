"""``sync/pipeline.py``: reading ahead in threads hands every item over in its source's order,
raises a source's error in the caller, and stops the reading threads when the caller stops; an
errand a background thread hands over runs in the caller's thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from integrations.sync.pipeline import Ahead, Errands, Worker, read_ahead


class Broken(Exception):
    pass


def numbers(count: int, *, fail_at: int | None = None) -> Iterator[int]:
    for n in range(count):
        if n == fail_at:
            raise Broken(n)
        yield n


def test_it_hands_over_each_sources_items_in_order() -> None:
    with Ahead({"a": numbers(50), "b": numbers(30)}, depth=2, beat=lambda: None) as ahead:
        got = list(ahead)
    assert [n for side, n in got if side == "a"] == list(range(50))
    assert [n for side, n in got if side == "b"] == list(range(30))


def test_it_raises_a_sources_error_in_the_caller() -> None:
    with pytest.raises(Broken):
        list(read_ahead(numbers(5, fail_at=3), beat=lambda: None))


def test_it_stops_reading_when_the_caller_stops() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    ahead = read_ahead(endless(), beat=lambda: None)
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()  # type: ignore[attr-defined]
    assert closed.is_set()


def test_a_workers_error_is_raised_by_result() -> None:
    worker = Worker()
    try:
        future = worker.submit(lambda: list(numbers(3, fail_at=1)))
        with pytest.raises(Broken):
            worker.result(future, beat=lambda: None)
    finally:
        worker.close()


def test_an_errand_from_a_background_task_runs_in_the_callers_thread() -> None:
    errands = Errands()
    worker = Worker(errands=errands)
    ran_in: list[str] = []
    try:
        future = worker.submit(
            lambda: errands.call(lambda: ran_in.append(threading.current_thread().name))
        )
        worker.result(future, beat=lambda: None)
    finally:
        worker.close()
    assert ran_in == [threading.current_thread().name]


def test_a_lanes_tasks_run_one_at_a_time_in_order_and_lanes_side_by_side() -> None:
    worker = Worker()
    ran: list[str] = []
    # Each lane's first task waits for the other lane's: run one lane after the other, the
    # first would wait in vain and break the barrier.
    both = threading.Barrier(2)
    running = {"a": 0, "b": 0}
    most = {"a": 0, "b": 0}

    def task(lane: str, n: int) -> None:
        running[lane] += 1
        most[lane] = max(most[lane], running[lane])
        if n == 0:
            both.wait(10)
        ran.append(f"{lane}{n}")
        running[lane] -= 1

    try:
        futures = [
            worker.submit(lambda lane=lane, n=n: task(lane, n), lane=lane)
            for n in range(3)
            for lane in ("a", "b")
        ]
        for future in futures:
            worker.result(future, beat=lambda: None)
    finally:
        worker.close()
    assert [r for r in ran if r[0] == "a"] == ["a0", "a1", "a2"]
    assert [r for r in ran if r[0] == "b"] == ["b0", "b1", "b2"]
    assert most == {"a": 1, "b": 1}
