"""The first run after a scan: no edit a user makes while the scan runs is ever skipped, and
what that run costs in API calls.

The scan's checkpoints are the feeds' positions when it listed the apps, before it wrote: the
next run reads from there, so an edit made at any moment of the scan is read again. What the
scan itself wrote comes back too and is skipped by its links' id + version, without being
processed again; the price is reading those pages (see bench/README.md, "The first run after
an initial sync")."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest

from integrations.models import SyncRun
from integrations.services.setup import field_mapping_add
from tests.integrations.sync.conftest import Pair, make_pair
from tests.integrations.sync.test_engine import replace_rules

EMAILS = ("ann@example.com", "bob@example.com", "cy@example.com")


def seed(pair: Pair) -> None:
    """Ann on both sides (Alpha's phone differs, so the scan updates Beta's Ann), Bob only on
    Alpha and Cy only on Beta (the scan creates each on the other side)."""
    pair.a.add(emails=[EMAILS[0]], full_name="Ann Lee", phones=["+14155550101"])
    pair.b.add(emails=[EMAILS[0]], first_name="Ann", last_name="Lee")
    pair.a.add(emails=[EMAILS[1]], full_name="Bob Ray")
    pair.b.add(emails=[EMAILS[2]], first_name="Cy", last_name="Oh")


def companies(pair: Pair, side: str) -> dict[str, set[Any]]:
    app = pair.a if side == "a" else pair.b
    return {email: {app.values(i).get("company") for i in app.holders(email)} for email in EMAILS}


def scan_with_an_edit_at_call(at_call: int, side: str, **app: Any) -> tuple[Pair, set[str]]:
    """A scan during which, just before its ``at_call``-th API call (either app's), the user
    sets the company of every record then holding one of ``EMAILS`` on ``side``. Returns the
    pair and the emails edited (none when the scan made fewer calls)."""
    pair = make_pair(app_a=app, app_b=app)
    seed(pair)
    edited_app = pair.a if side == "a" else pair.b
    calls = 0
    edited: set[str] = set()

    def before_call(kind: str) -> None:
        nonlocal calls
        calls += 1
        if calls != at_call:
            return
        for email in EMAILS:
            for record_id in edited_app.holders(email):
                edited_app.edit(record_id, company=f"Edited at call {at_call}")
                edited.add(email)

    pair.a.before_call = pair.b.before_call = before_call
    try:
        scan = pair.run()
    finally:
        pair.a.before_call = pair.b.before_call = None
    assert scan.phase == SyncRun.Phase.SCAN
    return pair, edited


@pytest.mark.django_db
@pytest.mark.parametrize("side", ["a", "b"])
@pytest.mark.parametrize(
    "stale_versions",
    [True, False],
    ids=["updates-carry-the-version", "updates-carry-no-version"],
)
def test_an_edit_made_between_any_two_calls_of_the_scan_arrives(
    side: str, stale_versions: bool
) -> None:
    other = "b" if side == "a" else "a"
    at_call = 0
    while True:
        at_call += 1
        assert at_call < 100, "the scan should take fewer calls"
        pair, edited = scan_with_an_edit_at_call(at_call, side, stale_versions=stale_versions)
        if not edited:
            break  # the scan was over before this call
        # A write the edit raced is refused as stale and retried: two runs at most.
        pair.run()
        pair.run()
        there = companies(pair, other)
        for email in edited:
            assert there[email] == {f"Edited at call {at_call}"}, (
                f"an edit of {email} on {side} before call {at_call} of the scan never arrived"
            )
    assert at_call > 5, "the scan made too few calls to put edits between them"


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", [3, 100])
def test_the_first_run_after_a_scan_reads_back_the_scans_writes_and_applies_none(
    page_size: int,
) -> None:
    pair = make_pair(
        app_a={"page_size": page_size, "create_batch_size": 10, "lookup_batch_size": 10},
        app_b={"page_size": page_size, "create_batch_size": 10, "lookup_batch_size": 10},
    )
    for n in range(12):
        pair.a.add(emails=[f"a{n}@example.com"], full_name=f"A Person{n}")
        pair.b.add(emails=[f"b{n}@example.com"], first_name="B", last_name=f"Person{n}")
    for n in range(6):
        pair.a.add(emails=[f"both{n}@example.com"], full_name=f"Both Person{n}")
        pair.b.add(emails=[f"both{n}@example.com"], first_name="Both", last_name=f"Person{n}")
    pair.run()
    written = {"a": pair.a.writes, "b": pair.b.writes}
    before = {"a": Counter(pair.a.http.calls), "b": Counter(pair.b.http.calls)}
    run = pair.run()
    assert run.phase == SyncRun.Phase.INCREMENTAL
    calls = {
        "a": Counter(pair.a.http.calls) - before["a"],
        "b": Counter(pair.b.http.calls) - before["b"],
    }
    # Feed pages only, through what the scan wrote there (one page more when it ends on a
    # full page): no lookup, no write.
    for side in ("a", "b"):
        pages = math.floor(written[side] / page_size) + 1
        assert set(calls[side]) == {"list"}, (side, calls[side])
        assert calls[side]["list"] <= pages + 1, (side, calls[side], written[side])
    assert (pair.a.writes, pair.b.writes) == (written["a"], written["b"])
    assert (run.created_a, run.created_b, run.updated_a, run.updated_b) == (0, 0, 0, 0)


@pytest.mark.django_db
def test_a_tag_the_run_adds_is_not_taken_for_someone_elses_edit() -> None:
    pair = make_pair()
    field_mapping_add(
        connection=pair.connection,
        field_a="tags",
        field_b="tags",
        fields_a=pair.a.fields(),
        fields_b=pair.b.fields(),
    )
    replace_rules(
        pair,
        "a_to_b",
        conditions=[{"field": "company", "operator": "equals", "value": "Acme"}],
        actions=[{"kind": "add_tag", "value": "VIP"}],
        undo=True,
    )
    ann = pair.a.add(emails=[EMAILS[0]], full_name="Ann Lee", company="Initech")
    pair.b.add(emails=[EMAILS[0]], first_name="Ann", last_name="Lee", tags=["Lead"])
    pair.run()
    pair.a.edit(ann, company="Acme")
    pair.run()
    writes = pair.writes()
    run = pair.run()
    assert (pair.writes(), run.read_b) == (writes, 1)
