"""The scan's index of one side's emails."""

from __future__ import annotations

import sys
from array import array

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


def test_it_keeps_a_domain_once_and_tells_emails_apart_by_both_parts() -> None:
    index = EmailIndex()
    index.add(contact("r1", "ann@x.test", "ann@y.test"))
    index.add(contact("r2", "bob@x.test", "x.test", "@x.test", "a@b@x.test"))
    assert b"@x.test" not in index._emails._data and b"y.test" not in index._emails._data
    assert index.holders("ann@x.test") == ["r1"] and index.holders("ann@y.test") == ["r1"]
    assert index.holders("bob@x.test") == ["r2"] and index.holders("x.test") == ["r2"]
    assert index.holders("@x.test") == ["r2"] and index.holders("a@b@x.test") == ["r2"]
    assert index.holders("ann@z.test") == [] and index.holders("bob@y.test") == []
    assert index.holders("ann") == [] and index.holders("a@b") == []


def test_past_its_domains_it_keeps_an_email_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(EmailIndex, "DOMAINS", 2)
    index = EmailIndex()
    emails = [f"{name}@{domain}.test" for domain in "pqrs" for name in ("ann", "bob")]
    for number, email in enumerate(emails):
        index.add(contact(f"r{number}", email))
    assert index._domains == {"@p.test": 1, "@q.test": 2}
    assert b"ann@r.test" in index._emails._data and b"p.test" not in index._emails._data
    for number, email in enumerate(emails):
        assert index.holders(email) == [f"r{number}"]
    assert index.holders("cy@r.test") == [] and index.holders("cy@p.test") == []


def test_it_cuts_its_buffers_to_size_at_the_first_lookup() -> None:
    index = EmailIndex()
    for number in range(5000):
        index.add(contact(f"people/c{number}", f"person{number}@x.test"))
    assert index.holders("person4999@x.test") == ["people/c4999"]
    for buffer in (index._emails._data, index._record_ids._data):
        assert sys.getsizeof(buffer) == sys.getsizeof(bytearray(len(buffer)))
    for numbers in (index._emails._ends, index._record_ids._ends, index._holder):
        assert sys.getsizeof(numbers) == sys.getsizeof(array("I", [0]) * 5000)
    index.add(contact("r", "late@x.test"))
    assert index.holders("late@x.test") == ["r"]
