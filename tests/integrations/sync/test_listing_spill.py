"""The scan listing's records on disk: every value a Contact can hold comes back as it was, of
the same types, whether it was kept as marshalled plain data or pickled."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import math
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.sync import listing as listing_mod
from integrations.sync.listing import Listing
from integrations.sync.records import Contact, Page


class Text(str):
    pass


class Values(dict):  # type: ignore[type-arg]
    pass


ADDRESS = {"street": "1 Main St", "city": "Zürich", "region": "", "postal_code": "8001",
           "country": "CH"}  # fmt: skip
PLAIN_VALUES: dict[str, Any] = {
    "emails": ["a@x.test", "zoë@exämple.test"],
    "phones": ["+41 44 668 18 00"],
    "first_name": "Zoë",
    "last_name": "",
    "notes": "line\nline\x00\ud800 lone surrogate",
    "addresses": [ADDRESS, {}],
    "tags": ["myContacts", "Tandem"],
    "birthday": "1990-01-02",
    "custom.count": 12345678901234567890123,
    "custom.negative": -1,
    "custom.ratio": 0.1,
    "custom.minus_zero": -0.0,
    "custom.infinite": math.inf,
    "custom.nan": math.nan,
    "custom.flag": True,
    "custom.off": False,
    "custom.none": None,
    "custom.pair": ("a", 1),
    "custom.nested": {"a": [{"b": (None, [])}], "": ""},
    "custom.raw": b"\x00\xff",
}
# Values marshal would not give back as they were: such records are pickled.
ODD_VALUES: list[Any] = [
    dt.date(1990, 1, 2),
    dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC),
    decimal.Decimal("1.10"),
    bytearray(b"ab"),
    {"a", "b"},
    Text("a subclass of str"),
    Values(a=1),
    collections.OrderedDict(a=1),
    [1, Text("x")],
    {Text("key"): 1},
    {("tuple", "key"): 1},
]
TIMES: list[dt.datetime | None] = [
    None,
    dt.datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 30, 12, 0, 0),
    dt.datetime(2026, 10, 25, 1, 30, fold=1),
    dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone(dt.timedelta(0), "GMT")),
    dt.datetime(2026, 11, 30, 12, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Zurich")),
    dt.datetime.min,
    dt.datetime.max.replace(tzinfo=dt.UTC),
]


@pytest.fixture
def listing() -> Iterator[Listing]:
    kept = Listing()
    yield kept
    kept.close()


def same(got: Any, want: Any) -> bool:
    """Equal, of exactly the same types all the way down (NaN equal to NaN)."""
    if type(got) is not type(want):
        return False
    if isinstance(want, float) and math.isnan(want):
        return math.isnan(got)
    if isinstance(want, dict):
        return list(got) == list(want) and all(
            same(k1, k2) and same(got[k1], want[k2]) for k1, k2 in zip(got, want, strict=True)
        )
    if isinstance(want, list | tuple):
        return len(got) == len(want) and all(same(a, b) for a, b in zip(got, want, strict=True))
    if isinstance(want, dt.datetime):
        return (got, got.tzinfo, got.fold, str(got.tzinfo)) == (
            want, want.tzinfo, want.fold, str(want.tzinfo)
        )  # fmt: skip
    return bool(got == want)


def same_record(got: Contact, want: Contact) -> bool:
    return type(got) is type(want) and all(
        same(getattr(got, f.name), getattr(want, f.name)) for f in dataclasses.fields(Contact)
    )


def records() -> list[Contact]:
    made = [
        Contact(
            id=f"people/c{n}",
            updated_at=when,
            version=f"etag{n}",
            values=dict(PLAIN_VALUES),
            deleted=n % 2 == 0,
            unsubscribed=n % 3 == 0,
            facts={"previous_ids": [f"people/old{n}"], "open_conversations": n},
            idempotency_key=f"key{n}",
            problem="" if n % 4 else "odd data",
        )
        for n, when in enumerate(TIMES)
    ]
    made += [
        Contact(id=f"odd{n}", updated_at=TIMES[1], values={"custom.odd": value})
        for n, value in enumerate(ODD_VALUES)
    ]
    made.append(Contact(id="odd-fact", facts={"when": dt.date(2026, 1, 1)}))
    made.append(Contact(id=Text("odd-id")))
    made.append(Contact(id="empty"))
    # Larger than one read of a record looked up by id, marshalled and pickled.
    made.append(Contact(id="large", values={"notes": "ü" * 5000}))
    made.append(Contact(id="large-odd", values={"notes": "ü" * 5000, "day": dt.date(2026, 1, 1)}))
    return made


def test_every_value_a_contact_can_hold_comes_back_as_it_was(listing: Listing) -> None:
    kept = records()
    listing.add_page(Page(records=kept[:7], checkpoint={"n": 1}))
    listing.add_page(Page(records=kept[7:], checkpoint={"n": 2}))
    pages = list(listing.pages())
    assert [p.checkpoint for p in pages] == [{"n": 1}, {"n": 2}]
    got = [record for p in pages for record in p.records]
    assert len(got) == len(kept)
    for read, written in zip(got, kept, strict=True):
        assert same_record(read, written), written.id
    found = listing.get_many([r.id for r in kept])
    for written in kept:
        assert same_record(found[written.id], written), written.id
    # Read records are the run's own: changing one changes nothing on disk.
    got[0].values["emails"].append("new@x.test")
    assert listing.get_many(["people/c0"])["people/c0"].values["emails"] == PLAIN_VALUES["emails"]


def test_plain_records_are_marshalled_and_the_others_pickled() -> None:
    tags = {}
    for record in records():
        data = listing_mod._dump(record)
        size, tag = listing_mod._HEADER.unpack_from(data)
        assert size == len(data) - 4  # the tag and the bytes after it
        tags[record.id] = tag
    plain_times = {0, 1, 2, 3, 7, 8}  # none, UTC, naive (fold too), min, max in UTC
    for n in range(len(TIMES)):
        want = listing_mod._MARSHAL if n in plain_times else listing_mod._PICKLE
        assert tags[f"people/c{n}"] == want, TIMES[n]
    assert all(tags[f"odd{n}"] == listing_mod._PICKLE for n in range(len(ODD_VALUES)))
    assert tags["odd-fact"] == tags["odd-id"] == listing_mod._PICKLE
    assert tags["empty"] == tags["large"] == listing_mod._MARSHAL
    assert tags["large-odd"] == listing_mod._PICKLE


def test_the_spill_writes_every_field_of_a_contact() -> None:
    # A field added to Contact must be added to the marshalled tuple too (or records lose it).
    record = Contact(id="x", updated_at=None)
    fields = {f.name for f in dataclasses.fields(Contact)}
    assert fields == {"id", "updated_at", "version", "values", "deleted", "unsubscribed",
                      "facts", "idempotency_key", "problem"}  # fmt: skip
    data = listing_mod._dump(record)
    assert same_record(listing_mod._load(data[4], data[5:]), record)
