"""The packed tables behind the scan's listing and email index."""

from __future__ import annotations

import pytest

from integrations.sync import packed
from integrations.sync.packed import HashIndex, Strings


def test_it_gives_strings_back_by_the_number_they_were_added_under() -> None:
    strings = Strings()
    numbers = [strings.add(text) for text in ["people/c1", "", "zoë@exämple.test", "x" * 300]]
    assert numbers == [0, 1, 2, 3]
    assert [strings[n] for n in numbers] == ["people/c1", "", "zoë@exämple.test", "x" * 300]
    assert len(strings) == 4


def test_it_finds_the_values_of_a_key_in_the_order_added() -> None:
    index = HashIndex()
    for value, key in enumerate(["a", "b", "a", "c", "a"]):
        index.add(key, value)
    assert index.candidates("a") == [0, 2, 4]
    assert index.candidates("c") == [3]
    assert index.candidates("missing") == []


def test_it_finds_keys_added_after_a_lookup() -> None:
    index = HashIndex()
    index.add("a", 1)
    assert index.candidates("a") == [1]
    index.add("b", 2)
    index.add("a", 3)
    assert index.candidates("a") == [1, 3]
    assert index.candidates("b") == [2]


def test_it_answers_every_key_of_a_colliding_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every key hashes alike: the index answers them all and leaves telling them apart to its
    # caller (the listing and the email index compare what they find).
    monkeypatch.setattr(packed, "hash", lambda key: 7, raising=False)
    index = HashIndex()
    index.add("x", 1)
    index.add("y", 2)
    assert index.candidates("x") == [1, 2]
