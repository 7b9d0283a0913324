"""Matching, from plain data: which records are fresh, which follow a link, which meet a record
of the other side by email, and when the breaker stops a page."""

from __future__ import annotations

from integrations.sync import matching
from integrations.sync.planner import breaker_message
from integrations.sync.state import Link
from tests.planner.builders import config, contact


def test_it_leaves_out_records_the_run_already_dealt_with_and_repeats() -> None:
    page = [contact("a1", "x@x.example"), contact("a2"), contact("a1", "x@x.example")]
    assert [r.id for r in matching.fresh_records(page, done={"a2"})] == ["a1"]


def test_it_skips_a_linked_record_already_applied_at_this_version() -> None:
    link = Link(id_a="a1", id_b="b1", version_a="7", pk=1)
    split = matching.split_by_links("a", [contact("a1", version="7")], {"a1": link})
    assert (split.linked, split.unlinked) == ([], [])


def test_it_follows_a_link_to_a_record_that_changed_since() -> None:
    link = Link(id_a="a1", id_b="b1", version_a="7", pk=1)
    record = contact("a1", version="8")
    split = matching.split_by_links("a", [record], {"a1": link})
    assert split.linked == [(record, link)]


def test_it_rekeys_a_link_found_under_the_records_previous_id() -> None:
    link = Link(id_a="old", id_b="b1", pk=1)
    split = matching.split_by_links("a", [contact("new", version="1")], {"new": link})
    assert ([(r.id, lk.id_a) for r, lk in split.linked], [lk.id_a for lk in split.rekeyed]) == (
        [("new", "new")],
        ["new"],
    )


def test_it_leaves_an_unlinked_deleted_record_alone() -> None:
    split = matching.split_by_links("a", [contact("a1", deleted=True)], {})
    assert (split.linked, split.unlinked) == ([], [])


def test_it_leaves_out_pairs_that_stopped_syncing() -> None:
    stopped = (contact("a1"), Link(id_a="a1", id_b="b1", deleted_b=True))
    going = (contact("a2"), Link(id_a="a2", id_b="b2"))
    assert matching.live([stopped, going]) == [going]


def test_it_matches_a_record_with_the_one_other_record_holding_its_email() -> None:
    found = matching.match_by_email(
        [contact("a1", "ann@example.com")],
        same_side={"ann@example.com": ["a1"]},
        other_side={"ann@example.com": ["b1"]},
        linked_there=set(),
        taken=set(),
    )
    assert (found.pairs[0][1], found.outcomes) == ("b1", [])


def test_it_will_not_steal_a_record_that_already_follows_a_link() -> None:
    found = matching.match_by_email(
        [contact("a1", "ann@example.com")],
        same_side={},
        other_side={"ann@example.com": ["b1"]},
        linked_there={"b1"},
        taken=set(),
    )
    [duplicate] = found.outcomes
    assert (found.pairs, duplicate.linked, duplicate.theirs) == ([], True, ["b1"])


def test_it_lets_only_the_first_of_two_records_claim_one_match() -> None:
    found = matching.match_by_email(
        [contact("a1", "ann@example.com"), contact("a2", "ann@work.example")],
        same_side={},
        other_side={"ann@example.com": ["b1"], "ann@work.example": ["b1"]},
        linked_there=set(),
        taken=set(),
    )
    assert ([r.id for r, _ in found.pairs], [d.record.id for d in found.outcomes]) == (
        ["a1"],
        ["a2"],
    )


def test_it_counts_a_record_the_page_follows_by_link_as_taken() -> None:
    link = Link(id_a="a1", id_b="b-old")
    moved = contact("b-new")
    taken = matching.followed_ids("b", [(contact("a1"), link)], {"b-old": moved})
    assert taken == {"b-new"}


def test_the_breaker_stops_a_page_tagging_more_than_the_share() -> None:
    message, _ = breaker_message(config(), {"b": 3}, {"b": 1}, lambda side: 10, share=0.3)
    assert message.startswith("This run would tag 4 of 10 contacts in Beta")


def test_the_breaker_lets_a_page_within_the_share_go_on_and_counts_it() -> None:
    message, totals = breaker_message(config(), {"b": 2}, {"b": 1}, lambda side: 10, share=0.3)
    assert (message, totals) == ("", {"b": 3})
