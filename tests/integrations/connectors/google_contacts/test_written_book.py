"""The Google connector's packed record of the contacts it wrote, against the dict of
``_Written`` it stands for."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from integrations.connectors.google_contacts.connector import _newer, _Written, _WrittenBook
from integrations.sync import packed
from integrations.sync.records import Contact

TIMES: list[dt.datetime | None] = [
    None,
    dt.datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 30, 13, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    dt.datetime(1969, 7, 20, 20, 17, 40, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 30, 12, 0, 0, 123457, tzinfo=dt.UTC),
    dt.datetime(1, 1, 1, tzinfo=dt.UTC),
    dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
]
NAIVE = [dt.datetime(2026, 11, 30, 12, 0), dt.datetime(1900, 1, 1, 0, 0, 0, 1)]
EMAILS = [[], ["a@x.test"], ["a@x.test", "zoë@exämple.test"], ["", "b\n@x.test", "c@x.test"]]


@pytest.mark.parametrize("seed", [1, 2])
def test_it_answers_as_the_dict_of_written_contacts_it_replaced(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if seed == 2:  # ids that hash alike are told apart
        monkeypatch.setattr(packed, "hash", lambda key: len(key) % 2, raising=False)
    rng = random.Random(seed)
    book, model = _WrittenBook(), {}
    for _ in range(400):
        record_id = f"people/c{rng.randrange(60)}"
        times = NAIVE if record_id.endswith("7") else TIMES
        at, emails = rng.choice(times), rng.choice(EMAILS)
        book.note(record_id, at, emails)
        model[record_id] = _Written(updated_at=at, emails=tuple(emails))
    assert sorted(book) == sorted(model)
    assert len(list(book)) == len(model)
    assert dict(book.items()).keys() == model.keys()
    for record_id, ours in model.items():
        for got in (book[record_id], dict(book.items())[record_id]):
            assert got.emails == ours.emails
            assert got.updated_at == ours.updated_at
            # As find_by_emails and find_by_intent_keys compare it with a listed contact.
            for listed_at in NAIVE if record_id.endswith("7") else TIMES:
                listed = Contact(id=record_id, updated_at=listed_at)
                assert _newer(got, listed) == _newer(ours, listed)
    with pytest.raises(KeyError):
        book["people/unknown"]
