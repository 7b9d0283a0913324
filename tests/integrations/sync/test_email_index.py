"""The scan's index of one side's emails."""

from __future__ import annotations

import pytest

from integrations.sync import packed
from integrations.sync.records import Contact
from integrations.sync.state import EmailIndex


def contact(record_id: str, *emails: str, **facts: object) -> Contact:
    return Contact(id=record_id, values={"emails": list(emails)}, facts=dict(facts))


def test_it_gives_the_holders_of_a_normalized_email_in_the_order_added() -> None:
    index = EmailIndex()
    index.add(contact("r1", "Ann@X.test", "ann@other.test"))
    index.add(contact("r2", "bob@x.test"))
    index.add(contact("r3", " ann@x.test "))
    assert index.holders("ann@x.test") == ["r1", "r3"]
    assert index.holders("ann@other.test") == ["r1"]
    assert index.holders("nobody@x.test") == []


def test_a_record_holding_an_email_twice_is_its_holder_once() -> None:
    index = EmailIndex()
    index.add(contact("r1", "ann@x.test", "ANN@x.test"))
    assert index.holders("ann@x.test") == ["r1"]


def test_it_leaves_deleted_records_out_and_counts_the_live_ones() -> None:
    index = EmailIndex()
    index.add(contact("r1", "ann@x.test"))
    index.add(Contact(id="r2", values={"emails": ["ann@x.test"]}, deleted=True))
    index.add(contact("r3"))
    assert index.holders("ann@x.test") == ["r1"]
    assert index.size == 2


def test_it_keeps_the_ids_a_record_had_before() -> None:
    index = EmailIndex()
    index.add(contact("people/new", "ann@x.test", previous_ids=["people/old"]))
    index.add(contact("people/2", "bob@x.test"))
    assert index.previous == {"people/new": ["people/old"]}


def test_it_tells_emails_that_hash_alike_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packed, "hash", lambda key: 7, raising=False)
    index = EmailIndex()
    index.add(contact("r1", "ann@x.test"))
    index.add(contact("r2", "bob@x.test"))
    assert index.holders("bob@x.test") == ["r2"]
    assert index.holders("ann@x.test") == ["r1"]
