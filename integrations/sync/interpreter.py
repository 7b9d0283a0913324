"""The interpreter's settings during a run: its garbage collector, its thread switching and
the C allocator's large blocks.

The garbage collector
---------------------

A scan makes millions of objects, and keeps many of them for a while: the groups under way,
the pages read ahead, the run's links and plans. On CPython's default thresholds the collector
follows them with a full collection every ten collections of its middle generation, once enough
of them have lived that long, and a full collection walks every object the process holds: the
worker's own (Django, the connectors, a hundred thousand and more) and all of the run's. At
10,000 records a side that was 19 full collections, 2.9 of a run's 6.8 CPU-seconds.

For the length of a run the objects made before it are left out of the collector's walks
(``gc.freeze``: they were there before and stay after), and a full collection waits for
``FULL_AFTER`` collections of the middle generation instead of ten.

The youngest generation is collected once ``YOUNG_AFTER`` more container objects are alive
than at its last collection, instead of 700. CPython counts an object made up and an object
freed down, so the count follows the objects alive, not all those made: a run works a group of
records at a time, and a group's decoded pages, records and plans (tens of thousands of
objects) used to outgrow 700 many times over, each time walked, moved to the middle
generation and walked there again, only to be freed by their references when the group was
done. At 10,000 records a side that was 2,300 young and 210 middle collections, 1.3 of a scan's
~10.5 CPU-seconds (11 of ~100 at 100,000); with 100,000 they are some 0.1 s, and the scan's
peak memory is the same (148 MB at 100,000 either way: what the collector would find in
cycles is little, and it still comes within 100,000 objects).

Thread switching
----------------
A scan's thread works (matching, planning, the store) while its reading and writing threads
wait on the apps (``pipeline.py``). Each time such a thread's socket read or write returns, it
needs the interpreter's lock back, and CPython lets the thread holding it keep it for up to
the switch interval first (``sys.setswitchinterval``, 5 ms by default). A page of a listing or
a batch's answer comes in many socket reads, so the busy run's thread held each of them back
by up to 5 ms a read, and the apps' answers queued behind its work. During a scan the
interval is ``SWITCH_INTERVAL`` instead. At 10,000 records a side, in four scans alternated
with four before: the time the run's process waited (its wall less its CPU time) 1.1-1.6 s ->
0.6-0.8 s, its wall 5.5 -> 5.2 s on average, its CPU time about 4 % more (the threads'
switches). At 100,000 no difference showed (three scans each, ``bench/README.md``).

An incremental run keeps the process's interval: there its one reading thread (a change feed
read a page ahead) is the one the run waits on, and a shorter interval hands the lock to the
run's thread sooner at its expense. The first run after a 100,000 scan took 1.19-1.92 s (mean
1.53, six runs) with the shorter interval against 1.23-1.43 s (mean 1.33, four) without.

Each setting is undone when the last of the process's runs that wanted it ends (runs in
threads of one process share the interpreter).

Large blocks
------------
A run's largest allocations are short-lived: an answer's body (a page of 1,000 contacts is
about 1 MB), the text made of it, the bytes read back from a listing. glibc's allocator gives
a block of 128 KB or more a mapping of its own, returned to the system when freed, but only
until the first such block is freed: from then on it raises that bound to the size freed, and
the next ones come from its heaps, where what is freed stays resident as long as anything
after it is still in use. ``return_large_blocks`` sets the bound at ``LARGE_BLOCK`` for good,
from the process's first run on (glibc has no way back to the moving bound, and a worker's
later runs want it too; elsewhere it does nothing). Peak RSS at 100,000 a side, on this
session's machine: the scan 151-153 MB with the moving bound, 145-146 MB with a fixed one of
128 KB or 512 KB; the first run after it 97.5 MB with 128 KB and 91.4 MB with 512 KB (the
blocks between the two are reused from the heaps instead of mapped afresh); an incremental run
of 100 changes 79.5 MB with either.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import platform
import sys
import threading
from collections.abc import Callable, Iterator

# Middle-generation collections between two full ones during a run (CPython's default: 10).
FULL_AFTER = 1000
# Container objects alive beyond those at the youngest generation's last collection before it
# is collected again during a run (CPython's default: 700).
YOUNG_AFTER = 100_000
# Seconds a thread holding the interpreter's lock keeps it from another asking for it, during a
# scan (CPython's default: 0.005).
SWITCH_INTERVAL = 0.0005


# Bytes from which glibc gives a block a mapping of its own, returned to the system when freed,
# kept from the first run on (``return_large_blocks``): a page's body and text are mapped.
LARGE_BLOCK = 512 * 1024
# ``mallopt``'s parameter for that bound (glibc's malloc.h).
_M_MMAP_THRESHOLD = -3


class _Held:
    """A process-wide setting made when the first of the process's runs that want it starts,
    undone when the last of them ends (runs in threads of one process share the
    interpreter)."""

    def __init__(self, make: Callable[[], Callable[[], None]]) -> None:
        self._make = make
        self._undo: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._holders = 0

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._undo = self._make()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._undo is not None:
                    self._undo()
                    self._undo = None


def _collector() -> Callable[[], None]:
    saved = gc.get_threshold()
    # A process that froze objects of its own (after a fork, say) keeps them frozen: unfreezing
    # after the run would undo that too.
    froze = gc.get_freeze_count() == 0
    if froze:
        gc.freeze()
    young, middle, full = saved
    gc.set_threshold(max(young, YOUNG_AFTER), middle, max(full, FULL_AFTER))

    def undo() -> None:
        gc.set_threshold(*saved)
        if froze:
            gc.unfreeze()

    return undo


def _switching() -> Callable[[], None]:
    saved = sys.getswitchinterval()
    # A process that chose a shorter interval of its own keeps it.
    sys.setswitchinterval(min(saved, SWITCH_INTERVAL))
    return lambda: sys.setswitchinterval(saved)


_COLLECTOR = _Held(_collector)
_SWITCHING = _Held(_switching)


@functools.cache
def return_large_blocks() -> bool:
    """Keep the C allocator giving every block of ``LARGE_BLOCK`` bytes or more back to the
    system when freed, from now on (glibc; tried once per process). Whether it does."""
    if platform.libc_ver()[0] != "glibc":
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    return bool(mallopt and mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK))


def run_collection() -> contextlib.AbstractContextManager[None]:
    """The collector as a run needs it, for the length of the ``with`` block."""
    return _COLLECTOR.held()


def scan_switching() -> contextlib.AbstractContextManager[None]:
    """The thread switching as a scan needs it, for the length of the ``with`` block."""
    return _SWITCHING.held()
