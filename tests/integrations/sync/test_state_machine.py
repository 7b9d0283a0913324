"""The engine's invariants (DESIGN.md §4) under random histories.

Two in-memory apps (one holding full names, the other first + last) see random creates, edits
on either side (the same field on both included), email changes, id changes, deletions,
unsubscribes and runs, some of which crash between two writes. After a final fault-free run:
mapped fields agree on both sides of every live link, links are one-to-one and point at live
records, no create ever put an email on a side that already held it, every contact with an
email nobody else ever used is linked, deletions and unsubscribes are tagged, and one more run
makes zero writes. A step that edits one field on both sides of a pair checks the winning app.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

from integrations.connectors.base import NameStyle
from integrations.models import Connection, RecordLink
from integrations.sync import names
from integrations.sync.engine import TRASH_TAG, UNSUBSCRIBE_TAG, load_config
from integrations.sync.records import normalize_email
from tests.integrations.sync.conftest import Pair, make_pair
from tests.integrations.sync.memory_app import AppCrash, MemoryApp

EMAILS = ["ann@x.io", "Bob@X.io", "cat@x.io", "dan@x.io", "eve@x.io", "fay@x.io", "gus@x.io"]
NAMES = ["Mary Ann Smith", "Bob Jones", "Ludwig van Beethoven", "Cher", "Ana de la Cruz", ""]
COMPANIES = ["Acme", "Globex", "", "Initech"]
PHONES = ["+1 415 555 0100", "+14155550100", "+44 20 7946 0958", ""]

SIDES = st.sampled_from(["a", "b"])
PICK = st.integers(min_value=0, max_value=30)

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
        self.pair: Pair = make_pair(
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
        # How many times the user put each email on any contact, on either side.
        self.placed: Counter[str] = Counter()

    def app(self, side: str) -> CreateWatch:
        app = self.pair.a if side == "a" else self.pair.b
        assert isinstance(app, CreateWatch)
        return app

    def pick(self, side: str, index: int) -> str | None:
        live = sorted(s.id for s in self.app(side).live())
        return live[index % len(live)] if live else None

    @initialize(winner=SIDES)
    def choose_winner(self, winner: str) -> None:
        Connection.objects.filter(pk=self.pair.connection.pk).update(winner=winner)

    @rule(
        side=SIDES,
        email=st.sampled_from([*EMAILS, None]),
        name=st.sampled_from(NAMES),
        company=st.sampled_from(COMPANIES),
        phone=st.sampled_from(PHONES),
    )
    def create(self, side: str, email: str | None, name: str, company: str, phone: str) -> None:
        app = self.app(side)
        values: dict[str, Any] = {**name_values(app, name), "company": company}
        values["phones"] = [phone] if phone else []
        values["emails"] = [email] if email else []
        if email:
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

    def field_values(self, side: str, field: str, value: int) -> dict[str, Any]:
        if field == "name":
            return name_values(self.app(side), NAMES[value % len(NAMES)])
        if field == "company":
            return {"company": COMPANIES[value % len(COMPANIES)]}
        phone = PHONES[value % len(PHONES)]
        return {"phones": [phone] if phone else []}

    @rule(side=SIDES, index=PICK, email=st.sampled_from([*EMAILS, None]))
    def change_email(self, side: str, index: int, email: str | None) -> None:
        record_id = self.pick(side, index)
        if record_id is None:
            return
        if email:
            self.placed[normalize_email(email)] += 1
        self.app(side).edit(record_id, emails=[email] if email else [])

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
            self.pair.run()
        except AppCrash:
            pass
        finally:
            self.app("a").crash_after = self.app("b").crash_after = None

    @rule(
        index=PICK,
        field=st.sampled_from(["name", "company", "phone"]),
        values=st.tuples(st.integers(0, 5), st.integers(0, 5)),
    )
    def edit_both_sides_then_run(self, index: int, field: str, values: tuple[int, int]) -> None:
        self.pair.run()
        links = list(
            RecordLink.objects.filter(
                connection=self.pair.connection, deleted_a=False, deleted_b=False
            ).order_by("id")
        )
        if not links:
            return
        link = links[index % len(links)]
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
        self.pair.run()
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
        self.pair.run()
        self.check_links()
        self.check_mapped_fields_agree()
        self.check_no_duplicate_creates()
        self.check_unique_emails_are_linked()
        self.check_deletions_and_unsubscribes_tagged()
        writes = self.pair.writes()
        run = self.pair.run()
        assert self.pair.writes() == writes, "a run with no edits wrote"
        assert run.writes == 0

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
                stored = self.app(side).records.get(link.record_id(side))
                assert stored is not None and not stored.deleted, f"{link} points at nothing"

    def check_mapped_fields_agree(self) -> None:
        mappings = self.mappings()
        for link in self.live_links():
            values_a, values_b = self.app("a").values(link.id_a), self.app("b").values(link.id_b)
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
                if not emails or (side, stored.id) in stopped:
                    continue
                if all(self.placed[e] == 1 for e in emails):
                    assert (side, stored.id) in linked, f"{stored.id} ({emails}) never synced"

    def check_deletions_and_unsubscribes_tagged(self) -> None:
        for link in RecordLink.objects.filter(connection=self.pair.connection):
            stored = {side: self.app(side).records.get(link.record_id(side)) for side in "ab"}
            for side in ("a", "b"):
                other = "b" if side == "a" else "a"
                mine, theirs = stored[side], stored[other]
                if theirs is None or theirs.deleted:
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
        ),
    )


@pytest.fixture
def settings_override(settings: Any) -> None:
    # The mass-tag breaker has its own tests; here a few deletions among few contacts are normal.
    settings.TANDEM_MASS_TAG_SHARE = 1000.0
