"""A real run overlaps its own work with its waits on the apps (``sync/pipeline.py``): both apps
are listed at once, a group's writes go out while the next group is planned, and a crash in
the middle leaves what a run without the overlap would have left: intents kept before their
creates, the checkpoint at the last page fully stored."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations.models import CreateIntent, RecordLink
from integrations.sync import engine as engine_mod
from integrations.sync import reader as reader_mod
from integrations.sync.apps import App
from integrations.sync.fields import NameStyle
from integrations.sync.records import Checkpoint, ContactUpdate, NewContact, Page, WriteResult
from tests.integrations.sync.conftest import Pair, make_pair
from tests.integrations.sync.memory_app import AppCrash, MemoryApp

pytestmark = pytest.mark.django_db

# Long enough for any machine; a wait that runs out fails the test (the overlap did not happen).
WAIT = 10.0


class ThreadedApp(MemoryApp):
    """A memory app the run may call from its threads (no test hook touches the database).
    ``before_list`` and ``before_write`` are called before its listing and its first create
    or update; ``waited`` holds what ``before_write`` answered."""

    calls_from_threads = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.listing_threads: set[str] = set()
        self.before_list: Callable[[], object] | None = None
        self.before_write: Callable[[], bool] | None = None
        self.waited: list[bool] = []

    def list_changed(self, checkpoint: Checkpoint | None) -> Iterator[Page]:
        self.listing_threads.add(threading.current_thread().name)
        if self.before_list is not None:
            self.before_list()
        yield from super().list_changed(checkpoint)

    def _first_write(self) -> None:
        if self.before_write is not None and not self.waited:
            self.waited.append(self.before_write())

    def create_many(self, items: list[NewContact]) -> list[WriteResult]:
        self._first_write()
        return super().create_many(items)

    def update_many(self, items: list[ContactUpdate]) -> list[WriteResult]:
        self._first_write()
        return super().update_many(items)


def threaded_pair(**app: Any) -> tuple[Pair, ThreadedApp, ThreadedApp]:
    pair = make_pair(app_a=app, app_b=app)
    a = ThreadedApp(label="Alpha", prefix="a", name_style=NameStyle.FULL, **app)
    b = ThreadedApp(label="Beta", prefix="b", name_style=NameStyle.SPLIT, **app)
    pair.a, pair.b = a, b
    return pair, a, b


def together(barrier: threading.Barrier) -> bool:
    """Wait at ``barrier`` for the other thread (a broken barrier raises: the test fails)."""
    barrier.wait(WAIT)
    return True


def people(pair: Pair, count: int) -> list[str]:
    return [
        pair.a.add({"emails": [f"p{i}@example.com"], "full_name": f"Person {i}"})
        for i in range(count)
    ]


def scan(pair: Pair, progress: Any = None) -> None:
    engine, _ = pair.engine()
    engine_mod.sync_connection(
        connection=engine.connection,
        run=engine.run,
        lease=engine.lease,
        apps={"a": App("a", pair.a), "b": App("b", pair.b)},
        edges=engine_mod.REAL,
        progress=progress,
    )
    pair.refresh()


def test_it_lists_both_apps_at_once() -> None:
    pair, a, b = threaded_pair()
    people(pair, 2)
    b.add({"emails": ["q@example.com"], "full_name": "Quinn Lee"})
    # Each app's listing waits until the other's has started: listed one after the other, the
    # first would wait in vain and break the barrier.
    both = threading.Barrier(2)
    a.before_list = b.before_list = lambda: together(both)
    scan(pair)
    assert a.listing_threads.isdisjoint(b.listing_threads)
    assert RecordLink.objects.filter(connection=pair.connection).count() == 3


def test_a_groups_writes_go_out_while_the_next_group_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader_mod, "SCAN_GROUP", 3)
    pair, _, b = threaded_pair(page_size=3)
    people(pair, 6)
    second_group = threading.Event()
    groups: list[int] = []

    def progress(stage: str, side: str, count: int) -> None:
        if (stage, side) == ("scan", "a"):
            groups.append(count)
            if len(groups) == 2:
                second_group.set()

    # The first group's first create waits until the run reads the second group: done in
    # order, the run would read it only once the create had returned.
    b.before_write = lambda: second_group.wait(WAIT)
    scan(pair, progress)
    assert (b.waited, groups) == ([True], [3, 3])
    assert len(b.live()) == 6


def test_a_groups_writes_go_to_both_apps_at_once() -> None:
    pair, a, b = threaded_pair()
    a.add({"emails": ["pat@example.com"], "full_name": "Pat Lee", "company": "Acme"})
    b.add({"emails": ["pat@example.com"], "first_name": "Pat", "last_name": "Lee",
           "job_title": "Buyer"})  # fmt: skip
    # Each app's update waits at a barrier for the other's: sent to one app after the other,
    # the first would wait in vain and break the barrier.
    both = threading.Barrier(2)
    a.before_write = b.before_write = lambda: together(both)
    scan(pair)
    assert (a.waited, b.waited) == ([True], [True])
    [(id_a, id_b)] = RecordLink.objects.filter(connection=pair.connection).values_list(
        "id_a", "id_b"
    )
    assert (a.values(id_a)["job_title"], b.values(id_b)["company"]) == ("Buyer", "Acme")


def test_a_crash_in_a_group_sent_in_the_background_leaves_its_intents_and_the_last_checkpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader_mod, "SCAN_GROUP", 3)
    pair, a, b = threaded_pair(page_size=3)
    people(pair, 6)
    first_page = next(iter(a.list_changed(None)))
    # The first record of the second group is written, then the worker dies.
    b.crash_after = 4
    with pytest.raises(AppCrash):
        scan(pair)
    open_intents = CreateIntent.objects.filter(
        connection=pair.connection, completed_at__isnull=True
    )
    links = RecordLink.objects.filter(connection=pair.connection)
    # The first group is stored with its page's checkpoint; the second group's intents were
    # kept before its creates went out, and nothing of it is linked.
    assert (open_intents.count(), links.count()) == (3, 3)
    assert pair.refresh().checkpoint_a == first_page.checkpoint
    scan(pair)
    assert (len(b.live()), links.count(), open_intents.count()) == (6, 6, 0)


def test_a_later_groups_writes_to_one_app_go_out_while_an_earlier_groups_to_the_other_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader_mod, "SCAN_GROUP", 1)
    pair, a, b = threaded_pair(page_size=1)
    people(pair, 1)  # created on Beta by the first group
    b.add({"emails": ["q@example.com"], "first_name": "Quinn", "last_name": "Lee"})
    # Each app's create waits at a barrier for the other's: with one group's writes in
    # flight at a time, Beta's group would wait for Alpha's group's create in vain.
    both = threading.Barrier(2)
    a.before_write = b.before_write = lambda: together(both)
    scan(pair)
    assert (a.waited, b.waited) == ([True], [True])
    assert RecordLink.objects.filter(connection=pair.connection).count() == 2


def test_a_group_stored_after_a_throttled_one_of_its_side_keeps_no_checkpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader_mod, "SCAN_GROUP", 3)
    pair, a, b = threaded_pair(page_size=3, create_batch_size=3)
    people(pair, 9)
    first_page = next(iter(a.list_changed(None)))
    third_sent = threading.Event()
    keep_intents = engine_mod.Store.keep_intents
    kept: list[int] = []

    def keeping(store: Any, creates: Any) -> Any:
        answer = keep_intents(store, creates)
        kept.append(len(creates))
        if len(kept) == 3:
            third_sent.set()
        return answer

    monkeypatch.setattr(engine_mod.Store, "keep_intents", keeping)
    create_many = b.create_many
    calls: list[int] = []

    def throttling(items: list[NewContact]) -> list[WriteResult]:
        calls.append(len(items))
        if len(calls) != 2:
            return create_many(items)
        # The second group's creates answer 429 once the third group is sent as well.
        assert third_sent.wait(WAIT)
        return [WriteResult(ref=i.ref, error="429", permanent=False, throttled=True) for i in items]

    b.create_many = throttling  # type: ignore[method-assign]
    scan(pair)
    links = RecordLink.objects.filter(connection=pair.connection)
    # The first and third groups are linked; the checkpoint stays at the first page, before
    # the throttled group, so the next run reads that group again.
    assert (links.count(), len(b.live())) == (6, 6)
    assert pair.refresh().checkpoint_a == first_page.checkpoint
    b.create_many = create_many  # type: ignore[method-assign]
    scan(pair)
    assert (links.count(), len(b.live())) == (9, 9)
