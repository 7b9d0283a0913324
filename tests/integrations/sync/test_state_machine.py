"""The engine's invariants (DESIGN.md §4) under random histories.

Two in-memory apps (one holding full names, the other first + last), joined two-way or one-way,
with or without a rule (a condition on the company), with the mass-tag breaker on or off, see
random creates (contacts with none, one or two emails), edits on either side (the same field on
both included), email changes, id changes, deletions, unsubscribes and runs: runs that crash
between two writes, runs during which the user edits a contact, and runs frozen between two API
calls while another run takes their lease over (the frozen run then wakes and must change
nothing). After a final fault-free run: mapped fields agree on both sides of every live link,
links are one-to-one and point at live records, no create ever put an email on a side that
already held it, every contact with an email nobody else ever used is linked, deletions and
unsubscribes are tagged, and one more run makes zero writes. After every complete run, every
one-sided edit of a linked contact made before it has arrived on the other side (its own side
keeps it); a step that edits one field on both sides of a pair checks the winning app.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from typing import Any

import pytest
from django.db import connection as db
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from integrations.leases import Heartbeat, Lease, LeaseLost, lease_acquire
from integrations.models import Connection, RecordLink, Rule
from integrations.services.setup import rule_create
from integrations.sync import names
from integrations.sync.engine import TRASH_TAG, UNSUBSCRIBE_TAG, BreakerTripped
from integrations.sync.fields import NameStyle
from integrations.sync.records import normalize_email
from integrations.sync.selectors import load_config
from tests.integrations.sync.conftest import Pair, make_pair
from tests.integrations.sync.memory_app import AppCrash, MemoryApp, Stored

EMAILS = ["ann@x.io", "Bob@X.io", "cat@x.io", "dan@x.io", "eve@x.io", "fay@x.io", "gus@x.io"]
NAMES = ["Mary Ann Smith", "Bob Jones", "Ludwig van Beethoven", "Cher", "Ana de la Cruz", ""]
COMPANIES = ["Acme", "Globex", "", "Initech"]
PHONES = ["+1 415 555 0100", "+14155550100", "+44 20 7946 0958", ""]

SIDES = st.sampled_from(["a", "b"])
PICK = st.integers(min_value=0, max_value=30)

DIRECTIONS = st.sampled_from(
    os.environ.get("TANDEM_SM_DIRECTIONS", "two_way,a_to_b,b_to_a").split(",")
)
FIELDS = st.sampled_from(["name", "company", "phone"])
EMAIL_LISTS = st.lists(st.sampled_from(EMAILS), max_size=2, unique=True)
# A rule's condition: contacts of this company do not sync.
EXCLUDED_COMPANY = "Initech"

EXAMPLES = int(os.environ.get("TANDEM_SM_EXAMPLES", "400"))
STEPS = int(os.environ.get("TANDEM_SM_STEPS", "50"))


class CreateWatch(MemoryApp):
    """Remembers every create that put an email already held on this side."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.duplicate_creates: list[tuple[str, str]] = []

    def create_many(self, items: list[Any]) -> list[Any]:
        for item in items:
            for email in item.values.get("emails") or []:
                if self.holders(email):
                    self.duplicate_creates.append((item.ref, email))
        return super().create_many(items)


def name_values(app: MemoryApp, full: str) -> dict[str, Any]:
    if app.capabilities.name_style == NameStyle.FULL:
        return {"full_name": full}
    name = names.parse(full).folded()  # the memory app has no fields for honorifics
    return {"first_name": name.first, "last_name": name.last}


class SyncMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # How many times the user put each email on any contact, on either side.
        self.placed: Counter[str] = Counter()
        # One-sided edits of linked contacts not yet checked: (link, mapping key) -> (side,
        # value read). An edit of the same field on the other side makes the pair a conflict.
        self.pending: dict[tuple[int, str], tuple[str, Any]] = {}
        self.during: list[tuple[str, str, str]] = []
        self.arrived = 0

    @initialize(
        winner=SIDES,
        direction=DIRECTIONS,
        with_rule=st.booleans(),
        breaker=st.booleans(),
    )
    def choose_setup(self, winner: str, direction: str, with_rule: bool, breaker: bool) -> None:
        self.pair: Pair = make_pair(
            direction=direction,
            winner=winner,
            sync_deletions=True,
            sync_unsubscribes=True,
            app_a={"page_size": 2, "create_batch_size": 2, "update_batch_size": 2},
            app_b={"page_size": 3, "create_batch_size": 3, "update_batch_size": 1},
        )
        for side in ("a", "b"):
            old = getattr(self.pair, side)
            watch = CreateWatch(
                label=old.name,
                prefix=old.prefix,
                name_style=old.capabilities.name_style,
                page_size=old.capabilities.read_page_size,
                create_batch_size=old.capabilities.create_batch_size,
                update_batch_size=old.capabilities.update_batch_size,
            )
            setattr(self.pair, side, watch)
        self.direction = direction
        self.with_rule = with_rule
        # The breaker on: a third of the linked contacts; off: never.
        self.share = 0.34 if breaker else 1000.0
        if with_rule:
            for rule_obj in Rule.objects.filter(connection=self.pair.connection):
                rule_direction = rule_obj.direction
                rule_obj.delete()
                rule_create(
                    connection=self.pair.connection,
                    direction=rule_direction,
                    conditions=[
                        {"field": "company", "operator": "not_equals", "value": EXCLUDED_COMPANY}
                    ],
                    actions=[],
                    fields_a=self.pair.a.fields(),
                    fields_b=self.pair.b.fields(),
                    capabilities_a=self.pair.a.capabilities,
                    capabilities_b=self.pair.b.capabilities,
                )

    def flows(self, side: str) -> bool:
        return self.direction == Connection.Direction.TWO_WAY or self.direction == (
            Connection.Direction.A_TO_B if side == "a" else Connection.Direction.B_TO_A
        )

    def complete_run(self, *, check: bool = True) -> bool:
        """One run; a tripped breaker is confirmed by the user (resume) and the run done again.
        Returns whether a run went through to its end (then every pending edit has arrived)."""
        for _ in range(3):
            try:
                with override_settings(TANDEM_MASS_TAG_SHARE=self.share):
                    self.pair.run()
            except BreakerTripped:
                # The run service pauses the connection; the user confirms the tagging.
                Connection.objects.filter(pk=self.pair.connection.pk).update(
                    mass_tag_confirmed=True
                )
                continue
            if check:
                self.check_pending_edits_arrived()
            return True
        raise AssertionError("the breaker tripped again after the user confirmed")

    def app(self, side: str) -> CreateWatch:
        app = self.pair.a if side == "a" else self.pair.b
        assert isinstance(app, CreateWatch)
        return app

    def pick(self, side: str, index: int) -> str | None:
        live = sorted(s.id for s in self.app(side).live())
        return live[index % len(live)] if live else None

    @rule(
        side=SIDES,
        emails=EMAIL_LISTS,
        name=st.sampled_from(NAMES),
        company=st.sampled_from([*COMPANIES, EXCLUDED_COMPANY]),
        phone=st.sampled_from(PHONES),
    )
    def create(self, side: str, emails: list[str], name: str, company: str, phone: str) -> None:
        app = self.app(side)
        values: dict[str, Any] = {**name_values(app, name), "company": company}
        values["phones"] = [phone] if phone else []
        values["emails"] = list(emails)
        for email in emails:
            self.placed[normalize_email(email)] += 1
        app.add(values)

    @rule(
        side=SIDES,
        index=PICK,
        field=st.sampled_from(["name", "company", "phone"]),
        value=st.integers(min_value=0, max_value=5),
    )
    def edit(self, side: str, index: int, field: str, value: int) -> None:
        record_id = self.pick(side, index)
        if record_id is not None:
            self.app(side).edit(record_id, **self.field_values(side, field, value))
            self.note_edit(side, record_id, field)

    def note_edit(self, side: str, record_id: str, field: str) -> None:
        """Remember a one-sided edit of a linked contact, to check that it arrives."""
        link = (
            RecordLink.objects.filter(
                connection=self.pair.connection, deleted_a=False, deleted_b=False
            )
            .filter(**{"id_a" if side == "a" else "id_b": record_id})
            .first()
        )
        if link is None:
            return
        mapping = self.mapping_of(field)
        entry = (link.pk, mapping.key("a"))
        value = mapping.read(side, self.app(side).values(record_id))
        held = self.pending.pop(entry, None)
        if held is not None and held[0] != side:
            self.pending[entry] = ("conflict", None)
        elif held is None or held[0] == side:
            self.pending[entry] = (side, value)

    def mapping_of(self, field: str) -> Any:
        key = {"name": "name", "company": "company", "phone": "phones"}[field]
        return next(m for m in self.mappings() if m.key("a") == key)

    def check_pending_edits_arrived(self) -> None:
        """After a run that went through: every one-sided edit of a pair still linked and
        synced stayed on its side and reached the other (a conflict is the winner's to settle)."""
        pending, self.pending = self.pending, {}
        mappings = {m.key("a"): m for m in self.mappings()}
        for (link_pk, key), (side, value) in pending.items():
            link = RecordLink.objects.filter(pk=link_pk, deleted_a=False, deleted_b=False).first()
            if side == "conflict" or link is None or not self.flows(side):
                continue
            stored = {s: self.app(s).records.get(link.record_id(s)) for s in "ab"}
            if any(r is None or r.deleted for r in stored.values()):
                continue
            if self.with_rule and any(
                r.values.get("company") == EXCLUDED_COMPANY for r in stored.values() if r
            ):
                continue
            other = "b" if side == "a" else "a"
            mapping = mappings[key]
            mine = mapping.read(side, self.app(side).values(link.record_id(side)))
            theirs = mapping.read(other, self.app(other).values(link.record_id(other)))
            pairs = (
                [(value, theirs), (mine, theirs)]
                if side == "a"
                else [(theirs, value), (theirs, mine)]
            )
            edited, now = (mapping.equivalent(x, y) for x, y in pairs)
            assert edited, f"{link}: the edit of {key} never arrived (or was undone)"
            assert now, f"{link}: {key} differs across the pair"
            self.arrived += 1

    def field_values(self, side: str, field: str, value: int) -> dict[str, Any]:
        if field == "name":
            return name_values(self.app(side), NAMES[value % len(NAMES)])
        if field == "company":
            return {"company": COMPANIES[value % len(COMPANIES)]}
        phone = PHONES[value % len(PHONES)]
        return {"phones": [phone] if phone else []}

    @rule(side=SIDES, index=PICK, emails=EMAIL_LISTS)
    def change_email(self, side: str, index: int, emails: list[str]) -> None:
        record_id = self.pick(side, index)
        if record_id is None:
            return
        for email in emails:
            self.placed[normalize_email(email)] += 1
        self.app(side).edit(record_id, emails=list(emails))

    @rule(index=PICK)
    def change_id(self, index: int) -> None:
        record_id = self.pick("b", index)
        if record_id is not None:
            self.app("b").change_id(record_id)

    @rule(side=SIDES, index=PICK)
    def delete(self, side: str, index: int) -> None:
        record_id = self.pick(side, index)
        if record_id is not None:
            self.app(side).delete(record_id)

    @rule(side=SIDES, index=PICK)
    def unsubscribe(self, side: str, index: int) -> None:
        record_id = self.pick(side, index)
        if record_id is not None:
            self.app(side).unsubscribe(record_id)

    @rule(crash_side=SIDES, crash_after=st.one_of(st.none(), st.integers(1, 6)))
    def run(self, crash_side: str, crash_after: int | None) -> None:
        self.app(crash_side).crash_after = crash_after
        try:
            self.complete_run()
        except AppCrash:
            pass
        finally:
            self.app("a").crash_after = self.app("b").crash_after = None

    @rule(
        at_call=st.integers(1, 12),
        side=SIDES,
        index=PICK,
        field=FIELDS,
        value=st.integers(min_value=0, max_value=5),
    )
    def run_with_an_edit_during_it(
        self, at_call: int, side: str, index: int, field: str, value: int
    ) -> None:
        """The user edits a contact between two of the run's API calls."""
        calls = Counter[str]()

        def edit(kind: str) -> None:
            calls["n"] += 1
            record_id = self.pick(side, index)
            if calls["n"] == at_call and record_id is not None:
                self.app(side).edit(record_id, **self.field_values(side, field, value))
                self.during.append((side, record_id, field))

        for app in (self.app("a"), self.app("b")):
            app.before_call = edit
        try:
            # A write racing the user's edit is refused as stale and done by the next run:
            # edits made before this run are checked after the next one.
            self.complete_run(check=False)
        finally:
            self.app("a").before_call = self.app("b").before_call = None
        if not self.during:
            self.check_pending_edits_arrived()
        # Seen by this run or not, it must arrive by the next one.
        during, self.during = self.during, []
        for edit_side, record_id, edit_field in during:
            if self.app(edit_side).records.get(record_id) is not None:
                self.note_edit(edit_side, record_id, edit_field)

    @rule(at_call=st.integers(1, 12))
    def run_frozen_then_taken_over(self, at_call: int) -> None:
        """A run freezes between two API calls past its lease; another run takes the lease
        over and completes; the frozen run wakes, and its next call finds the lease lost."""
        pk = self.pair.connection.pk
        Connection.objects.filter(pk=pk).update(lease_owner="", lease_expires_at=None)
        stale = lease_acquire(connection_id=pk, owner="frozen")
        assert stale is not None
        calls = Counter[str]()
        took_over: list[Lease] = []

        def beat(lease: Lease) -> None:
            for app in (self.app("a"), self.app("b")):
                app.http.heartbeat = Heartbeat(lease, every=0)

        def take_over(kind: str) -> None:
            calls["n"] += 1
            # Between two calls, outside any fenced transaction (as a frozen worker would be).
            if took_over or calls["n"] < at_call or db.savepoint_ids:
                return
            for app in (self.app("a"), self.app("b")):
                app.before_call = None
            Connection.objects.filter(pk=pk).update(
                lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
            )
            fresh = lease_acquire(connection_id=pk, owner="fresh")
            assert fresh is not None
            took_over.append(fresh)
            self.pair.lease = fresh
            beat(fresh)
            try:
                self.complete_run()
            finally:
                self.pair.lease = stale
                beat(stale)

        for app in (self.app("a"), self.app("b")):
            app.before_call = take_over
        self.pair.lease = stale
        beat(stale)
        try:
            self.complete_run()
        except LeaseLost:
            assert took_over, "a lease lost with nobody taking it over"
        finally:
            for app in (self.app("a"), self.app("b")):
                app.before_call = None
                app.http.heartbeat = None
            self.pair.lease = None
            Connection.objects.filter(pk=pk).update(lease_owner="", lease_expires_at=None)

    @precondition(lambda self: self.direction == Connection.Direction.TWO_WAY)
    @rule(
        index=PICK,
        field=st.sampled_from(["name", "company", "phone"]),
        values=st.tuples(st.integers(0, 5), st.integers(0, 5)),
    )
    def edit_both_sides_then_run(self, index: int, field: str, values: tuple[int, int]) -> None:
        self.complete_run()
        links = list(
            RecordLink.objects.filter(
                connection=self.pair.connection, deleted_a=False, deleted_b=False
            ).order_by("id")
        )
        if not links:
            return
        link = links[index % len(links)]
        if self.excluded(self.app("a").values(link.id_a), self.app("b").values(link.id_b)):
            return
        key = {"name": "name", "company": "company", "phone": "phones"}[field]
        mapping = next(m for m in self.mappings() if m.key("a") == key)
        edits = {"a": self.field_values("a", field, values[0])}
        edits["b"] = self.field_values("b", field, values[1])
        before, now = {}, {}
        for side in ("a", "b"):
            before[side] = mapping.read(side, self.app(side).values(link.record_id(side)))
            self.app(side).edit(link.record_id(side), **edits[side])
            now[side] = mapping.read(side, self.app(side).values(link.record_id(side)))
        winner = self.pair.refresh().winner
        loser = "b" if winner == "a" else "a"
        edited_out = self.excluded(self.app("a").values(link.id_a), self.app("b").values(link.id_b))
        self.complete_run()
        if edited_out:
            return  # an edit put one side out of the rule's reach: the other side's rule decides
        after = {s: mapping.read(s, self.app(s).values(link.record_id(s))) for s in ("a", "b")}
        assert mapping.equivalent(after["a"], after["b"])
        if (
            mapping.equivalent(now["a"], now["b"])
            or before["a"] == now["a"]
            or before["b"] == now["b"]
        ):
            return
        # The winner's value stays, unless it is empty: an empty value never erases by winning.
        kept = loser if now[winner] is None and now[loser] is not None else winner
        assert after[kept] == now[kept], f"{field}: {kept} should have won"

    def mappings(self) -> list[Any]:
        return list(load_config(self.pair.refresh(), self.pair.a, self.pair.b).mappings)

    def teardown(self) -> None:
        if not hasattr(self, "pair"):
            return
        self.complete_run()
        if self.direction != Connection.Direction.TWO_WAY:
            # One way, the target's records are not read again: an email a run's later page
            # frees on the target lets an earlier contact holding it be created by the next run.
            self.complete_run()
        self.check_links()
        self.check_mapped_fields_agree()
        self.check_no_duplicate_creates()
        self.check_unique_emails_are_linked()
        self.check_deletions_and_unsubscribes_tagged()
        writes = self.pair.writes()
        with override_settings(TANDEM_MASS_TAG_SHARE=self.share):
            run = self.pair.run()
        assert self.pair.writes() == writes, "a run with no edits wrote"
        assert run.writes == 0

    def stored(self, side: str, record_id: str) -> Stored | None:
        """The record a link points at. On the target of a one-way connection an id the app
        changed is followed the next time the engine touches the record (the app still answers
        for the old id), so the link may hold the old id until then."""
        app = self.app(side)
        found = app.records.get(record_id)
        if found is None and not self.flows(side):
            found = next(
                (s for s in app.records.values() if record_id in s.facts.get("previous_ids", [])),
                None,
            )
        return found

    def excluded(self, *values: dict[str, Any]) -> bool:
        """Whether the rule's condition keeps one of these contacts out of the sync."""
        return self.with_rule and any(v.get("company") == EXCLUDED_COMPANY for v in values)

    def live_links(self) -> list[RecordLink]:
        return list(
            RecordLink.objects.filter(
                connection=self.pair.connection, deleted_a=False, deleted_b=False
            )
        )

    def check_links(self) -> None:
        links = RecordLink.objects.filter(connection=self.pair.connection)
        ids_a = [link.id_a for link in links]
        ids_b = [link.id_b for link in links]
        assert len(ids_a) == len(set(ids_a)) and len(ids_b) == len(set(ids_b))
        for link in self.live_links():
            for side in ("a", "b"):
                stored = self.stored(side, link.record_id(side))
                if not self.flows(side) and (stored is None or stored.deleted):
                    continue  # the target's own deletions are not read in a one-way connection
                assert stored is not None and not stored.deleted, f"{link} points at nothing"

    def check_mapped_fields_agree(self) -> None:
        if self.direction != Connection.Direction.TWO_WAY:
            return  # the target's own edits stay there until the source changes
        mappings = self.mappings()
        for link in self.live_links():
            values_a, values_b = self.app("a").values(link.id_a), self.app("b").values(link.id_b)
            if self.excluded(values_a, values_b):
                continue
            for m in mappings:
                now_a, now_b = m.read("a", values_a), m.read("b", values_b)
                assert m.equivalent(now_a, now_b), f"{link}: {m.field_a} {now_a!r} != {now_b!r}"

    def check_no_duplicate_creates(self) -> None:
        for side in ("a", "b"):
            assert self.app(side).duplicate_creates == []

    def check_unique_emails_are_linked(self) -> None:
        stopped = {
            (side, link.record_id(side))
            for link in RecordLink.objects.filter(connection=self.pair.connection)
            if link.deleted_a or link.deleted_b
            for side in ("a", "b")
        }
        linked = {("a", link.id_a) for link in self.live_links()}
        linked |= {("b", link.id_b) for link in self.live_links()}
        for side in ("a", "b"):
            for stored in self.app(side).live():
                emails = {normalize_email(e) for e in stored.values.get("emails") or []}
                if not emails or (side, stored.id) in stopped or not self.flows(side):
                    continue
                if self.with_rule and stored.values.get("company") == EXCLUDED_COMPANY:
                    continue
                if all(self.placed[e] == 1 for e in emails):
                    assert (side, stored.id) in linked, f"{stored.id} ({emails}) never synced"

    def check_deletions_and_unsubscribes_tagged(self) -> None:
        for link in RecordLink.objects.filter(connection=self.pair.connection):
            stored = {side: self.stored(side, link.record_id(side)) for side in "ab"}
            for side in ("a", "b"):
                other = "b" if side == "a" else "a"
                mine, theirs = stored[side], stored[other]
                if theirs is None or theirs.deleted or not self.flows(side):
                    continue
                if mine is not None and self.excluded(mine.values, theirs.values):
                    continue
                if mine is None or mine.deleted:
                    assert link.deleted_a or link.deleted_b, f"{link}: deletion unseen"
                    assert TRASH_TAG in (theirs.values.get("tags") or []), f"{link}: no trash tag"
                elif mine.unsubscribed and not (link.deleted_a or link.deleted_b):
                    assert UNSUBSCRIBE_TAG in (theirs.values.get("tags") or [])


@pytest.mark.django_db
def test_it_keeps_the_invariants_under_random_histories(settings_override: None) -> None:
    run_state_machine_as_test(
        SyncMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            # Shrinking a long history can take minutes; a failure is reported as found.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )


@pytest.fixture
def settings_override(settings: Any) -> None:
    # The mass-tag breaker has its own tests; here a few deletions among few contacts are normal.
    settings.TANDEM_MASS_TAG_SHARE = 1000.0
