"""An app whose connector allows it (``write_batches_at_once``, Kustomer) gets that many of a
run's write batches at once; any other app gets them one after the other."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from integrations.models import CreateIntent, RecordLink
from integrations.sync.apps import App
from integrations.sync.records import NewContact, WriteResult
from integrations.sync.writer import sent
from tests.integrations.sync.test_overlap import WAIT, people, scan, threaded_pair

pytestmark = pytest.mark.django_db


class Calls:
    """Wraps an app's ``create_many``: counts the calls under way at once."""

    def __init__(self, real: Any, barrier: threading.Barrier | None = None) -> None:
        self.real = real
        self.barrier = barrier
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.sizes: list[int] = []

    def __call__(self, items: list[NewContact]) -> list[WriteResult]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.sizes.append(len(items))
        try:
            if self.barrier is not None and len(self.sizes) <= 2:
                self.barrier.wait(WAIT)
            return list(self.real(items))
        finally:
            with self.lock:
                self.running -= 1


def test_an_app_that_allows_it_gets_two_batches_at_once() -> None:
    pair, _, b = threaded_pair()
    b.write_batches_at_once = 2  # type: ignore[attr-defined]
    people(pair, 5)  # three batches of creates on Beta (two a batch)
    # The first two batches wait for each other: sent one after the other, the first would
    # wait in vain and break the barrier.
    calls = Calls(b.create_many, threading.Barrier(2))
    b.create_many = calls  # type: ignore[method-assign]
    scan(pair)
    assert (calls.most, sorted(calls.sizes)) == (2, [1, 2, 2])
    assert len(b.live()) == 5
    assert RecordLink.objects.filter(connection=pair.connection).count() == 5
    assert not CreateIntent.objects.filter(completed_at__isnull=True).exists()


def test_any_other_app_gets_its_batches_one_after_the_other() -> None:
    pair, _, b = threaded_pair()
    people(pair, 7)
    calls = Calls(b.create_many)
    b.create_many = calls  # type: ignore[method-assign]
    scan(pair)
    assert (calls.most, calls.sizes) == (1, [2, 2, 2, 1])
    assert len(b.live()) == 7


def test_the_answers_come_in_the_batches_order_and_none_is_sent_after_a_failure() -> None:
    _, _, b = threaded_pair()
    b.write_batches_at_once = 2  # type: ignore[attr-defined]
    app = App("b", b)
    asked: list[int] = []
    first_done = threading.Event()

    def call(batch: list[int]) -> list[WriteResult]:
        asked.append(batch[0])
        if batch[0] == 0:
            # The second batch answers first: the answers still come in the batches' order.
            assert first_done.wait(WAIT)
        if batch[0] == 1:
            first_done.set()
        if batch[0] == 2:
            raise RuntimeError("the app is down")
        return [WriteResult(ref=str(n)) for n in batch]

    answers = sent(app, call, [[n] for n in range(6)])
    assert [r.ref for r in next(answers)] == ["0"]
    assert [r.ref for r in next(answers)] == ["1"]
    with pytest.raises(RuntimeError):
        next(answers)
    # Two at once: the batch after the failing one may be under way already; none after it.
    assert sorted(asked) in ([0, 1, 2], [0, 1, 2, 3])
