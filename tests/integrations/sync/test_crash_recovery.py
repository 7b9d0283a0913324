"""A crash between creating a record and linking it: the next run finds the record by the key
of the create intent it was stamped with, whatever became of its emails."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.models import CreateIntent, RecordLink
from tests.integrations.sync.conftest import Pair, make_pair
from tests.integrations.sync.memory_app import AppCrash

pytestmark = pytest.mark.django_db


def person(email: str | None, name: str = "Ann Lee") -> dict[str, Any]:
    return {"emails": [email] if email else [], "full_name": name}


def crash_after_first_create(pair: Pair) -> None:
    pair.b.crash_after = 1
    with pytest.raises(AppCrash):
        pair.run()
    assert CreateIntent.objects.filter(completed_at__isnull=True).count() == 1


def test_it_links_a_created_contact_without_an_email_after_a_crash() -> None:
    pair = make_pair(avoid_duplicates=False)
    a1 = pair.a.add(person(None))
    crash_after_first_create(pair)
    pair.run()
    [created] = pair.b.live()
    links = list(RecordLink.objects.filter(connection=pair.connection).values_list("id_a", "id_b"))
    assert links == [(a1, created.id)]


def test_it_links_a_created_contact_whose_email_changed_before_the_next_run(pair: Pair) -> None:
    a1 = pair.a.add(person("ann@example.com"))
    crash_after_first_create(pair)
    [created] = pair.b.live()
    pair.b.edit(created.id, emails=["ann.lee@example.net"])
    pair.run()
    links = list(RecordLink.objects.filter(connection=pair.connection).values_list("id_a", "id_b"))
    assert (len(pair.b.live()), links) == (1, [(a1, created.id)])


def test_it_links_a_created_contact_whose_source_email_changed_before_the_next_run(
    pair: Pair,
) -> None:
    a1 = pair.a.add(person("ann@example.com"))
    crash_after_first_create(pair)
    [created] = pair.b.live()
    pair.a.edit(a1, emails=["ann.lee@example.net"])
    pair.b.edit(created.id, emails=["ann.b@example.org"])
    pair.run()
    assert len(pair.b.live()) == 1
    assert RecordLink.objects.get(connection=pair.connection).id_b == created.id


def test_it_looks_a_recovered_create_up_by_its_intents_key_first(pair: Pair) -> None:
    pair.a.add(person("ann@example.com"))
    crash_after_first_create(pair)
    calls: list[str] = []
    original = pair.b.find_by_emails
    pair.b.find_by_emails = lambda emails: calls.append("email") or original(emails)  # type: ignore[method-assign]
    pair.run()
    assert (calls, len(pair.b.live())) == ([], 1)
