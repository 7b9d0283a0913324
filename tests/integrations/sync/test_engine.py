"""Scenarios of whole runs between two in-memory apps (DESIGN.md §4): what the run reads, keeps
and resumes. The decisions themselves are tested without a database in tests/planner."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations.connectors.base import ConnectorError
from integrations.leases import Lease, LeaseLost, lease_acquire
from integrations.models import (
    Connection,
    CreateIntent,
    FieldMapping,
    RecordIssue,
    RecordLink,
    Rule,
)
from integrations.services.runs import connection_resync
from integrations.services.setup import rule_create
from integrations.sync.engine import TRASH_TAG, BreakerTripped
from tests.integrations.sync.conftest import Pair, make_pair
from tests.integrations.sync.memory_app import AppCrash

pytestmark = pytest.mark.django_db


def person(email: str | None, name: str = "Ann Lee", **more: Any) -> dict[str, Any]:
    return {"emails": [email] if email else [], "full_name": name, **more}


def linked(pair: Pair) -> list[tuple[str, str]]:
    return sorted(RecordLink.objects.filter(connection=pair.connection).values_list("id_a", "id_b"))


def replace_rules(pair: Pair, direction: str, **rule: Any) -> Rule:
    Rule.objects.filter(connection=pair.connection, direction=direction).delete()
    return rule_create(
        connection=pair.connection,
        direction=direction,
        fields_a=pair.a.fields(),
        fields_b=pair.b.fields(),
        capabilities_a=pair.a.capabilities,
        capabilities_b=pair.b.capabilities,
        **{"conditions": [], "actions": [], **rule},
    )


# -- Scan ---------------------------------------------------------------------------------------


def test_it_links_records_with_the_same_email_instead_of_creating_them(pair: Pair) -> None:
    a1 = pair.a.add(person("Ann@Example.com"))
    b1 = pair.b.add(emails=["ann@example.com"], first_name="Ann", last_name="Lee")
    pair.run()
    assert (linked(pair), len(pair.b.records)) == ([(a1, b1)], 1)


def test_it_turns_a_scanning_connection_active_after_the_scan(pair: Pair) -> None:
    pair.run()
    assert pair.connection.status == Connection.Status.ACTIVE


def test_it_reports_two_records_with_one_email_on_a_side_as_duplicates(pair: Pair) -> None:
    pair.a.add(person("ann@example.com"))
    pair.a.add(person("ANN@example.com", "Ann Other"))
    run = pair.run()
    assert (run.duplicates, pair.b.records, pair.connection.health["duplicates"]) == (2, {}, 2)


def test_it_makes_no_write_on_a_second_run_without_edits(pair: Pair) -> None:
    pair.a.add(person("ann@example.com", "Mary Ann Smith", phones=["+1 415 555 0100"]))
    pair.b.add(emails=["bob@example.com"], first_name="Bob", last_name="Jones")
    pair.run()
    writes = pair.writes()
    run = pair.run()
    assert (pair.writes(), run.writes) == (writes, 0)


def listing_calls(app: Any) -> int:
    """The calls one full listing of ``app`` takes, not counted on the app."""
    before = app.http.calls["list"]
    for _ in app.list_changed(None):
        pass
    calls = app.http.calls["list"] - before
    app.http.calls["list"] = before
    return calls


def test_a_scan_lists_each_app_once(pair: Pair) -> None:
    for n in range(7):
        pair.a.add(person(f"p{n}@example.com"))
    for n in range(4, 12):
        pair.b.add(emails=[f"p{n}@example.com"], first_name="Ann", last_name="Lee")
    expected = {"a": listing_calls(pair.a), "b": listing_calls(pair.b)}
    pair.run()
    assert {"a": pair.a.http.calls["list"], "b": pair.b.http.calls["list"]} == expected


def test_a_scan_takes_the_counterparts_it_matches_from_its_listing(pair: Pair) -> None:
    for n in range(5):
        pair.a.add(person(f"p{n}@example.com", company="Acme"))
        pair.b.add(emails=[f"p{n}@example.com"], first_name="Ann", last_name="Lee")
    pair.run()
    assert (len(linked(pair)), pair.a.http.calls["get"], pair.b.http.calls["get"]) == (5, 0, 0)


def test_a_scan_writes_creates_of_several_pages_in_full_batches(pair: Pair) -> None:
    # Two pages of three (page_size 3), batches of two: page by page would take four calls.
    for n in range(6):
        pair.a.add(person(f"p{n}@example.com"))
    pair.run()
    assert (len(pair.b.records), pair.b.http.calls["create"]) == (6, 3)


def test_a_rescan_asks_the_app_for_a_linked_record_missing_from_its_listing(
    pair: Pair,
) -> None:
    pair.a.add(person("ann@example.com"))
    pair.run()
    link = RecordLink.objects.get(connection=pair.connection)
    del pair.b.records[link.id_b]
    pair.a.edit(link.id_a, company="Globex")
    connection_resync(connection=pair.connection)
    pair.run()
    link.refresh_from_db()
    assert (link.deleted_b, pair.b.http.calls["get"], pair.b.records) == (True, 1, {})


def test_it_counts_the_api_calls_of_both_apps(pair: Pair) -> None:
    pair.a.add(person("ann@example.com"))
    run = pair.run()
    assert run.api_calls == pair.a.http.total_calls + pair.b.http.total_calls
    assert run.api_calls_by_kind["b: create"] == 1


# -- Incremental --------------------------------------------------------------------------------


@pytest.fixture
def synced(pair: Pair) -> Pair:
    pair.a.add(person("ann@example.com", "Mary Ann Smith", company="Acme"))
    pair.run()
    return pair


def only_link(pair: Pair) -> RecordLink:
    return RecordLink.objects.get(connection=pair.connection)


def test_it_joins_first_and_last_names_into_the_full_name(synced: Pair) -> None:
    link = only_link(synced)
    synced.b.edit(link.id_b, first_name="Maryann")
    synced.run()
    assert synced.a.values(link.id_a)["full_name"] == "Maryann Smith"


def test_it_keeps_the_link_when_the_email_changes(synced: Pair) -> None:
    link = only_link(synced)
    synced.a.edit(link.id_a, emails=["mary@new.example"])
    synced.run()
    assert (linked(synced), synced.b.values(link.id_b)["emails"]) == (
        [(link.id_a, link.id_b)],
        ["mary@new.example"],
    )


def test_it_keeps_the_link_when_the_app_changes_the_records_id(synced: Pair) -> None:
    link = only_link(synced)
    new_id = synced.b.change_id(link.id_b)
    synced.b.edit(new_id, company="Globex")
    synced.run()
    assert (linked(synced), synced.a.values(link.id_a)["company"]) == (
        [(link.id_a, new_id)],
        "Globex",
    )


def test_it_reads_only_what_changed_since_the_checkpoint(synced: Pair) -> None:
    for n in range(6):
        synced.a.add(person(f"p{n}@example.com"))
    synced.run()
    synced.a.add(person("new@example.com"))
    run = synced.run()
    # The overlap window re-reads the last applied record; it is skipped by id + version.
    assert (run.read_a, run.created_b) == (2, 1)


def test_its_incremental_queries_follow_the_changes_not_the_links() -> None:
    pair = make_pair(app_a={"page_size": 100}, app_b={"page_size": 100})

    def queries_for_one_change() -> int:
        record = pair.a.add(person(f"someone{len(pair.a.records)}@example.com"))
        pair.run()
        pair.a.edit(record, company="Changed")
        with CaptureQueriesContext(db_connection) as queries:
            pair.run()
        pair.a.delete(record)
        pair.run()
        return len(queries)

    few = queries_for_one_change()
    for n in range(40):
        pair.a.add(person(f"p{n}@example.com"))
    pair.run()
    assert queries_for_one_change() == few


# -- Rules and actions --------------------------------------------------------------------------


def test_it_syncs_nothing_in_a_direction_without_rules(pair: Pair) -> None:
    Rule.objects.filter(connection=pair.connection, direction="a_to_b").delete()
    pair.a.add(person("ann@example.com"))
    pair.run()
    assert pair.b.records == {}


def test_it_undoes_an_action_when_the_contact_stops_matching(pair: Pair) -> None:
    replace_rules(
        pair,
        "a_to_b",
        conditions=[{"field": "company", "operator": "equals", "value": "Acme"}],
        actions=[{"kind": "add_tag", "value": "Acme customer"}],
        undo=True,
    )
    a1 = pair.a.add(person("ann@example.com", company="Acme"))
    pair.run()
    b1 = only_link(pair).id_b
    assert pair.b.values(b1)["tags"] == ["Acme customer"]
    pair.a.edit(a1, company="Globex")
    pair.run()
    assert pair.b.values(b1)["tags"] == []


def test_it_never_writes_to_the_source_of_a_one_way_connection() -> None:
    pair = make_pair(direction=Connection.Direction.A_TO_B, sync_deletions=True)
    a1 = pair.a.add(person("ann@example.com", company="Acme"))
    pair.b.add(emails=["bob@example.com"], first_name="Bob")
    pair.b.add(emails=["ann@example.com"], first_name="Ann", company="Initech")
    pair.run()
    link = only_link(pair)
    pair.b.edit(link.id_b, company="Globex", first_name="Annie")
    pair.b.delete(link.id_b)
    pair.a.edit(a1, company="Acme 2")
    pair.run()
    assert pair.a.writes == 0


def test_it_ignores_the_other_directions_rules_on_a_one_way_connection() -> None:
    pair = make_pair(direction=Connection.Direction.A_TO_B)
    Rule.objects.create(connection=pair.connection, direction="b_to_a", position=0)
    pair.b.add(emails=["bob@example.com"], first_name="Bob")
    pair.run()
    assert pair.a.records == {}


def test_it_creates_the_mirror_rule_with_the_other_way_around_toggle(pair: Pair) -> None:
    rule = replace_rules(
        pair,
        "a_to_b",
        conditions=[{"field": "company", "operator": "equals", "value": "Acme"}],
        actions=[{"kind": "add_tag", "value": "VIP"}],
        mirror=True,
    )
    mirror = rule.mirror
    assert mirror is not None
    assert (mirror.direction, [(c.field, c.value) for c in mirror.conditions.all()]) == (
        "b_to_a",
        [("company", "Acme")],
    )


# -- Deletions, unsubscribes, the breaker -------------------------------------------------------


def test_its_in_sync_count_follows_incremental_links_and_deletions(pair: Pair) -> None:
    for n in range(4):
        pair.a.add(person(f"p{n}@example.com"))
    pair.run()
    pair.a.add(person("new@example.com"))
    pair.a.delete(RecordLink.objects.filter(connection=pair.connection).first().id_a)
    pair.run()
    live = RecordLink.objects.filter(connection=pair.connection, deleted_a=False, deleted_b=False)
    assert (pair.connection.health["in_sync"], live.count()) == (4, 4)


def test_it_does_not_recreate_a_linked_record_that_vanished(synced: Pair) -> None:
    link = only_link(synced)
    del synced.b.records[link.id_b]
    synced.a.edit(link.id_a, company="Globex")
    synced.run()
    synced.run()
    assert (synced.b.records, only_link(synced).deleted_b) == ({}, True)


@pytest.fixture
def mass_deletion() -> Pair:
    pair = make_pair(sync_deletions=True)
    for n in range(10):
        pair.a.add(person(f"p{n}@example.com"))
    pair.run()
    for stored in pair.a.live()[:5]:
        pair.a.delete(stored.id)
    return pair


def test_it_trips_the_breaker_when_a_run_would_tag_a_large_share(mass_deletion: Pair) -> None:
    with pytest.raises(BreakerTripped, match="of 10 contacts in Beta"):
        mass_deletion.run()


def test_it_tags_no_more_than_the_share_before_the_breaker_stops_it(mass_deletion: Pair) -> None:
    writes = mass_deletion.b.writes
    with pytest.raises(BreakerTripped):
        mass_deletion.run()
    # Pages are applied one by one: those within the share (20% of 10) were tagged.
    assert mass_deletion.b.writes - writes <= 2


def test_it_does_not_save_the_checkpoint_of_the_page_that_trips_the_breaker(
    mass_deletion: Pair,
) -> None:
    with pytest.raises(BreakerTripped):
        mass_deletion.run()
    Connection.objects.filter(pk=mass_deletion.connection.pk).update(mass_tag_confirmed=True)
    mass_deletion.run()
    trashed = [r for r in mass_deletion.b.live() if TRASH_TAG in (r.values.get("tags") or [])]
    assert len(trashed) == 5


def test_it_tags_the_share_once_confirmed_and_uses_the_confirmation_up(
    mass_deletion: Pair,
) -> None:
    Connection.objects.filter(pk=mass_deletion.connection.pk).update(mass_tag_confirmed=True)
    run = mass_deletion.run()
    assert (run.tagged_b, mass_deletion.connection.mass_tag_confirmed) == (5, False)


def test_it_pauses_the_connection_through_the_run_service(
    mass_deletion: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations import services
    from integrations.services import runs

    apps = {
        mass_deletion.connection.account_a_id: mass_deletion.a,
        mass_deletion.connection.account_b_id: mass_deletion.b,
    }
    monkeypatch.setattr(runs, "connector_for", lambda account, **_: apps[account.pk])
    services.connection_sync(connection_id=mass_deletion.connection.pk)
    connection = mass_deletion.refresh()
    assert (connection.status, connection.breaker_tripped) == (Connection.Status.PAUSED, True)


# -- Failures and crashes -----------------------------------------------------------------------


@pytest.fixture
def poisoned(pair: Pair) -> Pair:
    pair.b.reject = lambda values: (
        "Company is not valid" if values.get("company") == "POISON" else ""
    )
    for n in range(5):
        pair.a.add(person(f"p{n}@example.com"))
    pair.a.add(person("poison@example.com", company="POISON"))
    return pair


def test_it_syncs_every_other_record_past_a_poison_record(poisoned: Pair) -> None:
    run = poisoned.run()
    assert (len(poisoned.b.records), run.failed, run.created_b) == (5, 1, 5)


def test_it_keeps_a_poison_record_as_a_record_issue_with_the_apps_reason(poisoned: Pair) -> None:
    poisoned.run()
    issue = RecordIssue.objects.get(connection=poisoned.connection)
    assert (issue.side, issue.target, issue.reason, issue.resolved_at) == (
        "a",
        "b",
        "Company is not valid",
        None,
    )
    assert poisoned.connection.health["failed"] == {"Company is not valid": 1}


def test_it_backs_off_a_record_issue_that_keeps_failing(poisoned: Pair) -> None:
    poisoned.run()
    RecordIssue.objects.update(next_retry_at=timezone.now() - dt.timedelta(seconds=1))
    poisoned.run()
    issue = RecordIssue.objects.get(connection=poisoned.connection)
    assert issue.attempts == 2
    assert issue.next_retry_at is not None
    assert issue.next_retry_at > timezone.now() + dt.timedelta(minutes=9)


def test_it_retries_a_due_record_issue_even_if_the_record_did_not_change(
    poisoned: Pair,
) -> None:
    poisoned.run()
    poisoned.b.reject = None
    RecordIssue.objects.update(next_retry_at=timezone.now() - dt.timedelta(seconds=1))
    poisoned.run()
    issue = RecordIssue.objects.get(connection=poisoned.connection)
    assert (len(poisoned.b.records), issue.resolved_at is not None) == (6, True)


def test_it_resumes_an_interrupted_run_from_its_last_checkpoint(pair: Pair) -> None:
    pair.run()
    for n in range(8):
        pair.a.add(person(f"p{n}@example.com"))
    start = dict(pair.connection.checkpoint_a)
    pair.b.crash_after = 5
    with pytest.raises(AppCrash):
        pair.run()
    assert pair.connection.checkpoint_a != start
    pair.run()
    emails = sorted(e for r in pair.b.live() for e in r.values["emails"])
    assert (emails, len(linked(pair))) == ([f"p{n}@example.com" for n in range(8)], 8)


def test_it_links_a_record_created_just_before_a_crash_instead_of_creating_it_again(
    pair: Pair,
) -> None:
    pair.a.add(person("ann@example.com"))
    pair.b.crash_after = 1
    with pytest.raises(AppCrash):
        pair.run()
    assert CreateIntent.objects.filter(completed_at__isnull=True).count() == 1
    pair.run()
    assert (len(pair.b.records), len(linked(pair))) == (1, 1)
    assert not CreateIntent.objects.filter(completed_at__isnull=True).exists()


def test_it_stamps_each_created_record_with_its_intents_key(pair: Pair) -> None:
    pair.a.add(person("ann@example.com"))
    pair.run()
    intent = CreateIntent.objects.get(connection=pair.connection)
    assert pair.b.records[intent.target_id].idempotency_key == str(intent.key)


def test_a_stale_lease_cannot_write_links_or_checkpoints(pair: Pair) -> None:
    lease = lease_acquire(connection_id=pair.connection.pk)
    assert lease is not None
    pair.lease = lease
    pair.a.add(person("ann@example.com"))
    original = pair.b.create_many

    def create_then_lose_the_lease(items: list[Any]) -> list[Any]:
        Connection.objects.filter(pk=pair.connection.pk).update(
            lease_generation=lease.generation + 1
        )
        return original(items)

    pair.b.create_many = create_then_lose_the_lease  # type: ignore[method-assign]
    with pytest.raises(LeaseLost):
        pair.run()
    assert (linked(pair), pair.refresh().checkpoint_a) == ([], {})


def test_a_run_after_a_lost_lease_links_what_the_stale_run_created(pair: Pair) -> None:
    test_a_stale_lease_cannot_write_links_or_checkpoints(pair)
    pair.b.create_many = type(pair.b).create_many.__get__(pair.b)  # type: ignore[method-assign]
    pair.lease = Lease(pair.connection.pk, "next", pair.refresh().lease_generation)
    pair.run()
    assert (len(pair.b.records), len(linked(pair))) == (1, 1)


def test_it_skips_a_mapping_whose_stored_value_map_is_unusable_and_syncs_the_rest(
    pair: Pair,
) -> None:
    FieldMapping.objects.filter(connection=pair.connection, field_a="company").update(
        value_map=[1, 2]
    )
    pair.a.add(person("ann@example.com", "Ann Lee", company="Acme"))
    run = pair.run()
    [created] = pair.b.live()
    assert run.failed == 0
    assert created.values["emails"] == ["ann@example.com"]
    assert "company" not in created.values


def test_an_apps_error_says_which_side_failed(pair: Pair) -> None:
    def refuse(checkpoint: Any) -> Any:
        raise ConnectorError("Beta refused the token", reauthorize=True)

    pair.b.list_changed = refuse  # type: ignore[method-assign]
    with pytest.raises(ConnectorError) as raised:
        pair.run()
    assert raised.value.side == "b"
