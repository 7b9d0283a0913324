"""The packed tables behind the scan's listing and email index."""

from __future__ import annotations

import sys
from array import array

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


def _same_as_a_set(texts: packed.StringSet, model: set[str]) -> None:
    assert len(texts) == len(model)
    assert sorted(texts) == sorted(model)
    assert set(texts) == model


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_string_set_answers_as_a_set_through_adds_and_removals(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import random

    monkeypatch.setattr(packed.StringSet, "CHUNK", 8)
    rng = random.Random(seed)
    pool = [f"people/c{n}" for n in range(300)] + ["", "zoë", "x" * 200]
    texts, model = packed.StringSet(), set()
    for step in range(3000):
        text = rng.choice(pool)
        if rng.random() < 0.7:
            texts.add(text)
            model.add(text)
        else:
            texts.discard(text)
            model.discard(text)
        probe = rng.choice(pool)
        assert (probe in texts) == (probe in model), (step, probe)
        if step % 500 == 0:
            _same_as_a_set(texts, model)
    _same_as_a_set(texts, model)
    # Chunks were made and merged: the strings are not all held by the plain set.
    assert texts._chunks and len(texts._recent) < len(model)


def test_a_string_set_tells_apart_strings_that_hash_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packed, "hash", lambda key: len(key) % 3, raising=False)
    monkeypatch.setattr(packed.StringSet, "CHUNK", 4)
    texts = packed.StringSet(f"id{n}" for n in range(0, 40, 2))
    assert texts._chunks
    assert all(f"id{n}" in texts for n in range(0, 40, 2))
    assert not any(f"id{n}" in texts for n in range(1, 40, 2))
    texts.discard("id4")
    assert "id4" not in texts and "id6" in texts
    texts.add("id4")
    assert "id4" in texts and len(texts) == 20


def test_a_string_set_works_with_the_set_operators_a_run_uses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As engine.process_page uses RunState.done: added = plan's - done; done |= plan's;
    # done -= added (a throttled page undone).
    monkeypatch.setattr(packed.StringSet, "CHUNK", 2)
    done = packed.StringSet(["a", "b", "c"])
    page = {"b", "c", "d", "e"}
    added = page - done
    assert added == {"d", "e"} and type(added) is set
    done |= page
    assert set(done) == {"a", "b", "c", "d", "e"}
    done -= added
    assert set(done) == {"a", "b", "c"} and len(done) == 3
    assert "d" not in done and 5 not in done  # type: ignore[comparison-overlap]
    assert done - {"a"} == {"b", "c"}
    assert done == {"a", "b", "c"}


def test_numbers_widen_to_8_bytes_when_one_does_not_fit() -> None:
    kept = packed.numbers()
    assert kept.itemsize == 4
    kept = packed.append_number(kept, 2**32 - 1)
    assert kept.itemsize == 4
    kept = packed.append_number(kept, 2**32)
    kept = packed.append_number(kept, -1)
    assert kept.itemsize == 8 and list(kept) == [2**32 - 1, 2**32, -1]


def test_a_hash_index_keeps_values_past_4_bytes_in_order() -> None:
    index = HashIndex()
    for value, key in enumerate(["a", "b", "a"]):
        index.add(key, value)
    index.candidates("a")  # sorted once with 4-byte values
    index.add("a", 2**40)
    index.add("c", -5)
    assert index.candidates("a") == [0, 2, 2**40]
    assert index.candidates("c") == [-5] and index.candidates("b") == [1]


def test_a_string_set_merges_no_chunk_past_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packed.StringSet, "CHUNK", 4)
    monkeypatch.setattr(packed.StringSet, "MERGED_MAX", 16)
    ids = [f"people/c{n}" for n in range(100)]
    texts = packed.StringSet(ids)
    assert [len(chunk) for chunk in texts._chunks] == [16] * 6 + [4]
    _same_as_a_set(texts, set(ids))
    assert all(text in texts for text in ids) and "people/c100" not in texts


def test_a_merged_chunk_holds_its_buffers_at_their_final_size() -> None:
    one = packed._Chunk.of([f"people/c{n}" for n in range(0, 6000, 2)])
    other = packed._Chunk.of([f"{n:024x}" for n in range(3000)])
    merged = packed._Chunk.merged(one, other)
    data, ends = merged.texts._data, merged.texts._ends
    assert sys.getsizeof(data) == sys.getsizeof(bytearray(len(data)))
    assert sys.getsizeof(merged.hashes) == sys.getsizeof(array("I", [0]) * 6000)
    assert sys.getsizeof(ends) == sys.getsizeof(array("I", [0]) * 6000)
    assert list(merged.hashes) == sorted(merged.hashes)
    assert sorted(merged) == sorted([*one, *other])
    assert all(merged.find(text, packed._low_hash(text)) for text in [*one, *other])


def test_hashes_are_kept_in_4_bytes_and_keys_alike_in_them_told_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Hashes that differ only above their low 32 bits: alike as kept.
    monkeypatch.setattr(packed, "hash", lambda key: (len(key) << 32) | 7, raising=False)
    monkeypatch.setattr(packed.StringSet, "CHUNK", 4)
    index = HashIndex()
    for value, key in enumerate(["a", "bb", "a", "ccc"]):
        index.add(key, value)
    assert index.candidates("a") == [0, 1, 2, 3] and index._hashes.itemsize == 4
    texts = packed.StringSet(f"id{n}" for n in range(0, 40, 2))
    assert texts._chunks and all(chunk.hashes.itemsize == 4 for chunk in texts._chunks)
    assert all(f"id{n}" in texts for n in range(0, 40, 2))
    assert not any(f"id{n}" in texts for n in range(1, 40, 2))


def test_a_sorted_hash_index_holds_its_arrays_at_their_final_size() -> None:
    index = HashIndex()
    for value in range(5000):
        index.add(f"people/c{value}", value)
    assert index.candidates("people/c4999") == [4999]
    assert sys.getsizeof(index._hashes) == sys.getsizeof(array("I", [0]) * 5000)
    assert sys.getsizeof(index._values) == sys.getsizeof(array("I", [0]) * 5000)


def test_strings_keep_lowercase_hex_ids_as_their_bytes_and_give_them_back() -> None:
    texts = [
        "5f0c9a2b3c4d5e6f7a8b9c0d",  # a Kustomer id: 24 digits, kept in 13 bytes
        "0123456789abcdef",
        "",
        "0123456789ABCDEF",  # uppercase: kept as text (it would come back lowercase)
        "0123456789abcde",  # odd: kept as text
        "0123456789abcdefg",
        "people/c1234567890123456789",
        "\u00ff\u00ff",
        "abcd",
    ]
    strings = Strings()
    numbers = [strings.add(text) for text in texts]
    assert [strings[number] for number in numbers] == texts
    assert strings._ends[0] == 13 and strings._ends[1] == 13 + 9
    chunk = packed._Chunk.of(list(texts))
    assert sorted(chunk) == sorted(texts)
    assert all(chunk.find(text, packed._low_hash(text)) for text in texts)
