"""The interpreter during a run (``sync/interpreter.py``): the objects made before the run are
left out of the collector's walks, young and full collections wait, threads switch sooner, all
undone when the run ends; the C allocator's large blocks go back to the system when freed."""

from __future__ import annotations

import gc
import platform
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from integrations.models import SyncRun
from integrations.sync import engine
from integrations.sync.interpreter import (
    FULL_AFTER,
    SWITCH_INTERVAL,
    YOUNG_AFTER,
    run_collection,
    scan_switching,
)
from tests.integrations.sync.conftest import Pair


@pytest.fixture(autouse=True)
def default_interpreter() -> Iterator[None]:
    """Each test starts from CPython's thresholds, nothing frozen and its switch interval, and
    leaves them so."""
    saved, saved_interval = gc.get_threshold(), sys.getswitchinterval()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    sys.setswitchinterval(0.005)
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)
    sys.setswitchinterval(saved_interval)


def test_it_freezes_what_was_made_before_and_delays_young_and_full_collections_in_a_run() -> None:
    before = [object()]
    with run_collection():
        assert gc.get_freeze_count() > 0
        assert not any(o is before for o in gc.get_objects())
        assert gc.get_threshold() == (YOUNG_AFTER, 10, FULL_AFTER)
    assert (gc.get_threshold(), gc.get_freeze_count()) == ((700, 10, 10), 0)


def test_it_restores_the_collector_after_a_run_that_fails() -> None:
    with pytest.raises(RuntimeError), run_collection():
        raise RuntimeError("the run failed")
    assert (gc.get_threshold(), gc.get_freeze_count()) == ((700, 10, 10), 0)


def test_it_leaves_a_process_that_froze_objects_of_its_own_frozen() -> None:
    own = [object()]
    gc.freeze()
    with run_collection():
        assert gc.get_threshold()[2] == FULL_AFTER
    assert gc.get_freeze_count() > 0
    assert not any(o is own for o in gc.get_objects())


def test_runs_in_threads_restore_the_interpreter_when_the_last_one_ends() -> None:
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[tuple[int, int, int], float]] = []

    def first() -> None:
        with run_collection(), scan_switching():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with run_collection(), scan_switching():
        second_in.set()
        first_out.wait(5)
        seen.append((gc.get_threshold(), sys.getswitchinterval()))
    thread.join(5)
    assert seen == [((YOUNG_AFTER, 10, FULL_AFTER), pytest.approx(SWITCH_INTERVAL))]
    assert (gc.get_threshold(), gc.get_freeze_count(), sys.getswitchinterval()) == (
        (700, 10, 10),
        0,
        0.005,
    )


@pytest.mark.django_db
def test_a_scan_works_under_the_settings_of_a_scan(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[tuple[int, int, int], float]] = []
    read_side = engine.read_side

    def watched(*args: Any) -> Any:
        seen.append((gc.get_threshold(), sys.getswitchinterval()))
        return read_side(*args)

    monkeypatch.setattr(engine, "read_side", watched)
    pair.a.add({"emails": ["ann@example.com"], "full_name": "Ann Lee"})
    run = SyncRun.objects.create(connection=pair.connection)
    engine.run_sync(
        connection=pair.connection, run=run, lease=None, connector_a=pair.a, connector_b=pair.b
    )
    during = ((YOUNG_AFTER, 10, FULL_AFTER), pytest.approx(SWITCH_INTERVAL))
    assert (seen, len(pair.b.records)) == ([during, during], 1)
    assert (gc.get_threshold(), sys.getswitchinterval()) == ((700, 10, 10), 0.005)


def test_a_group_of_objects_made_and_freed_within_the_young_threshold_is_never_walked() -> None:
    """What the threshold is for: objects a run makes and frees again (a group's pages, records
    and plans) are freed by their references before the youngest generation is collected."""
    collections = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()
    gc.callbacks.append(count)
    try:
        with run_collection():
            for _ in range(20):
                # 40,001 containers: a dict and a list per record, and the group's list.
                group = [{"id": str(i), "values": [i]} for i in range(20_000)]
                del group
    finally:
        gc.callbacks.remove(count)
    assert collections == []


def test_it_keeps_a_higher_young_threshold_the_process_chose() -> None:
    gc.set_threshold(YOUNG_AFTER * 2, 10, 10)
    with run_collection():
        assert gc.get_threshold() == (YOUNG_AFTER * 2, 10, FULL_AFTER)
    assert gc.get_threshold() == (YOUNG_AFTER * 2, 10, 10)


def test_threads_switch_sooner_during_a_scan_and_as_before_after_it() -> None:
    with scan_switching():
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_it_restores_the_switch_interval_after_a_scan_that_fails() -> None:
    with pytest.raises(RuntimeError), scan_switching():
        raise RuntimeError("the run failed")
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_it_keeps_a_shorter_switch_interval_the_process_chose() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL / 2)
    with scan_switching():
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL / 2)
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL / 2)


@pytest.mark.django_db
def test_an_incremental_run_keeps_the_process_switch_interval(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair.a.add({"emails": ["ann@example.com"], "full_name": "Ann Lee"})
    pair.run()
    seen: list[float] = []
    read_side = engine.read_side

    def watched(*args: Any) -> Any:
        seen.append(sys.getswitchinterval())
        return read_side(*args)

    monkeypatch.setattr(engine, "read_side", watched)
    pair.a.add({"emails": ["bo@example.com"], "full_name": "Bo Tan"})
    pair.run()
    assert (seen, len(pair.b.records)) == ([0.005, 0.005], 2)


# Counts the blocks glibc's allocator has given mappings of their own (``mallinfo2``'s
# ``hblks``) around a 1 MB block made after an 8 MB one was freed (which raises glibc's bound
# for such blocks to 8 MB), in a fresh interpreter: the setting is the process's for good.
LARGE_BLOCKS_SCRIPT = """
import ctypes, sys
from integrations.sync import interpreter

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split())]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
freed = bytearray(8 << 20)
del freed
kept = interpreter.return_large_blocks() if sys.argv[1] == "run" else False
before = libc.mallinfo2().hblks
block = bytearray(1 << 20)
print(kept, libc.mallinfo2().hblks - before)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator only")
@pytest.mark.parametrize(("mode", "expected"), [("run", "True 1"), ("before", "False 0")])
def test_a_large_block_made_once_a_run_started_has_a_mapping_of_its_own(
    mode: str, expected: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LARGE_BLOCKS_SCRIPT, mode],
        capture_output=True, text=True, check=True, cwd=settings.BASE_DIR,
    )  # fmt: skip
    assert done.stdout.split() == expected.split()


def test_a_run_keeps_large_blocks_returned_before_it_reads(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(engine, "return_large_blocks", lambda: calls.append("kept") or True)
    read_side = engine.read_side

    def watched(*args: Any) -> Any:
        calls.append("read")
        return read_side(*args)

    monkeypatch.setattr(engine, "read_side", watched)
    pair.a.add({"emails": ["ann@example.com"], "full_name": "Ann Lee"})
    pair.run()
    assert calls == ["kept", "read", "read"]
