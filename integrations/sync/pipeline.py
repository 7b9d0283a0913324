"""Threads that overlap a run's CPU with its waits on the apps.

A run spends much of its time waiting on the apps' answers and as much again on its own work
(matching, planning, the database). Two helpers let the waits run beside that work:

- ``Ahead`` reads one or more iterators (an app's pages) each in a thread of its own, a few
  items ahead, and hands the items over in the order they arrive;
- ``Worker`` runs tasks in the background (a group's writes), one lane per app: each app's
  writes one at a time and in order, the two apps side by side, while the caller prepares
  the next group.

Only the apps' HTTP runs in these threads. Everything that touches the database (intents,
links, checkpoints, the lease) stays in the caller's thread: Django's connections are per
thread, and the run's order of effects, which its crash safety rests on, stays one order. The
caller's thread beats the lease heartbeat while it waits, and a worker's errors are raised
there. What a connector must keep from a thread (a refreshed OAuth token) is handed to the
caller's thread as an errand (``Errands``), run there while it waits.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from typing import Generic, TypeVar

from django.db import connections

T = TypeVar("T")
R = TypeVar("R")

# How long the waiting thread waits before it beats the heartbeat and runs errands again.
WAIT_SLICE = 0.05
_DONE = object()


def closing_connections(task: Callable[[], R]) -> R:
    """Run ``task``, then close any database connection it opened in this thread."""
    try:
        return task()
    finally:
        connections.close_all()


class Errands:
    """Calls the run's other threads hand to the run's own thread (the one that made this),
    which runs them while it waits on those threads: what touches the database does not
    leave the run's thread."""

    def __init__(self) -> None:
        self._owner = threading.get_ident()
        self._queue: queue.SimpleQueue[
            tuple[Callable[[], object], threading.Event, list[BaseException]]
        ] = queue.SimpleQueue()

    def call(self, task: Callable[[], object]) -> None:
        """Run ``task`` in the run's thread and wait for it (at once from that thread)."""
        if threading.get_ident() == self._owner:
            task()
            return
        done = threading.Event()
        errors: list[BaseException] = []
        self._queue.put((task, done, errors))
        done.wait()
        if errors:
            raise errors[0]

    def run(self) -> None:
        """Run the errands handed over so far (from the run's thread)."""
        while True:
            try:
                task, done, errors = self._queue.get_nowait()
            except queue.Empty:
                return
            try:
                task()
            except BaseException as exc:  # raised in the thread that handed it over
                errors.append(exc)
            finally:
                done.set()


class Ahead(Generic[T]):
    """The items of ``sources``, each read in a thread of its own at most ``depth`` items
    ahead of the caller, as ``(key, item)`` in the order they arrive (one source's items in
    their own order). ``beat`` is called while the caller waits. Use as a context manager: on
    exit the threads are told to stop and are waited for (each finishes the read it is in)."""

    def __init__(
        self,
        sources: Mapping[str, Iterable[T]],
        *,
        depth: int,
        beat: Callable[[], None],
        errands: Errands | None = None,
    ) -> None:
        self._queue: queue.Queue[tuple[str, object, BaseException | None]] = queue.Queue(depth)
        self._stop = threading.Event()
        self._beat = beat
        self._errands = errands or Errands()
        self._threads = [
            threading.Thread(
                target=closing_connections,
                args=(lambda key=key, source=source: self._pump(key, source),),
                name=f"tandem-read-{key}",
                daemon=True,
            )
            for key, source in sources.items()
        ]

    def __enter__(self) -> Ahead[T]:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        while any(thread.is_alive() for thread in self._threads):
            self._drain()
            self._errands.run()
            for thread in self._threads:
                thread.join(WAIT_SLICE / len(self._threads))
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _put(self, item: tuple[str, object, BaseException | None]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _pump(self, key: str, source: Iterable[T]) -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                if not self._put((key, item, None)):
                    return
        except BaseException as exc:  # handed to the caller, raised there
            self._put((key, _DONE, exc))
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        self._put((key, _DONE, None))

    def __iter__(self) -> Iterator[tuple[str, T]]:
        running = len(self._threads)
        while running:
            try:
                key, item, error = self._queue.get(timeout=WAIT_SLICE)
            except queue.Empty:
                self._errands.run()
                self._beat()
                continue
            if error is not None:
                raise error
            if item is _DONE:
                running -= 1
                continue
            yield key, item  # type: ignore[misc]


def read_ahead(
    source: Iterable[T], *, beat: Callable[[], None], errands: Errands | None = None
) -> Iterator[T]:
    """``source``'s items, the next one read in a thread while the caller works on this one."""
    with Ahead({"": source}, depth=1, beat=beat, errands=errands) as ahead:
        for _, item in ahead:
            yield item


class Worker:
    """Runs tasks in the background, one lane per key: a lane's tasks one at a time in the
    order they were submitted (an app's calls stay one at a time, in order), lanes side by
    side. The caller collects each task's result with ``result``, running ``errands`` while it
    waits."""

    def __init__(self, *, errands: Errands | None = None) -> None:
        self._lanes: dict[str, ThreadPoolExecutor] = {}
        self.errands = errands or Errands()
        self._futures: list[Future[object]] = []

    def submit(self, task: Callable[[], R], *, lane: str = "") -> Future[R]:
        pool = self._lanes.get(lane)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tandem-write-{lane}")
            self._lanes[lane] = pool
        future = pool.submit(closing_connections, task)
        self._futures = [f for f in self._futures if not f.done()]
        self._futures.append(future)  # type: ignore[arg-type]
        return future

    def result(self, future: Future[R], *, beat: Callable[[], None]) -> R:
        """``future``'s result (or its error), beating ``beat`` while it runs."""
        while not wait_for([future], timeout=WAIT_SLICE).done:
            self.errands.run()
            beat()
        self.errands.run()
        return future.result()

    def close(self) -> None:
        """Wait for the tasks under way (running their errands), then stop the threads."""
        while wait_for(self._futures, timeout=WAIT_SLICE).not_done:
            self.errands.run()
        self.errands.run()
        for pool in self._lanes.values():
            pool.shutdown(wait=True)
