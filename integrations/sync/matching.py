"""Matching, pure: which records of a page are new to the run, which follow a link, and which
meet a record of the other side by email. Reads only what it is handed (the page's records,
their links, the holders of their emails); two records holding one email are reported as
duplicates, never guessed at."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from integrations.sync.records import Contact
from integrations.sync.state import Link


def fresh_records(records: Iterable[Contact], done: Collection[str]) -> list[Contact]:
    """The page's records, each once, less those the run already dealt with."""
    unique = {record.id: record for record in records}
    return [record for record in unique.values() if record.id not in done]


@dataclass
class Split:
    """A page's fresh records by what follows them."""

    # (record, its link), the link re-keyed to the record's current id.
    linked: list[tuple[Contact, Link]] = field(default_factory=list)
    # Records with no link (deleted ones left out: nothing to do for them).
    unlinked: list[Contact] = field(default_factory=list)
    # Links whose id on the page's side changed (the app gave the record a new id).
    rekeyed: list[Link] = field(default_factory=list)


def split_by_links(source: str, records: Iterable[Contact], links: Mapping[str, Link]) -> Split:
    split = Split()
    for record in records:
        link = links.get(record.id)
        if link is not None and record.version and link.version(source) == record.version:
            continue  # already applied: the overlap window or our own write read back
        if link is None:
            if not record.deleted:
                split.unlinked.append(record)
            continue
        if link.id(source) != record.id:
            link = link.with_id(source, record.id)
            split.rekeyed.append(link)
        split.linked.append((record, link))
    return split


def live(linked: Iterable[tuple[Contact, Link]]) -> list[tuple[Contact, Link]]:
    """The pairs still syncing: one whose record was deleted on either side has stopped."""
    return [(r, link) for r, link in linked if not (link.deleted_a or link.deleted_b)]


def followed_ids(
    target: str, pairs: Iterable[tuple[Contact, Link]], counterparts: Mapping[str, Contact]
) -> set[str]:
    """The ``target`` records these live pairs take up (by their current id)."""
    found = set()
    for _, link in pairs:
        counterpart = counterparts.get(link.id(target))
        found.add(counterpart.id if counterpart is not None else link.id(target))
    return found


@dataclass(frozen=True)
class Duplicate:
    record: Contact
    email: str
    twins: list[str]
    theirs: list[str]
    linked: bool


@dataclass(frozen=True)
class NoMatch:
    record: Contact


@dataclass
class EmailMatches:
    # In the records' order: a duplicate to report, or a record no one else holds.
    outcomes: list[Duplicate | NoMatch] = field(default_factory=list)
    # (record, the other side's record holding its email alone).
    pairs: list[tuple[Contact, str]] = field(default_factory=list)


def match_by_email(
    candidates: Iterable[Contact],
    *,
    same_side: Mapping[str, list[str]],
    other_side: Mapping[str, list[str]],
    linked_there: Collection[str],
    taken: Collection[str],
    also_taken: Collection[str] = (),
) -> EmailMatches:
    """Match records holding an email with the other side's holders of their emails.

    ``same_side`` / ``other_side``: ids of the live records holding each email. A record whose
    match already follows a link (``linked_there``), was dealt with by the run (``taken``,
    ``also_taken``) or is claimed by an earlier record here is a duplicate: creating would put
    its email there twice, linking would steal it."""
    found = EmailMatches()
    claimed: set[str] = set()
    for record in candidates:
        mine = record.normalized_emails
        twins = {i for e in mine for i in same_side.get(e, []) if i != record.id}
        theirs = sorted({i for e in mine for i in other_side.get(e, [])})
        if twins or len(theirs) > 1:
            found.outcomes.append(Duplicate(record, mine[0], sorted(twins), theirs, False))
            continue
        if not theirs:
            found.outcomes.append(NoMatch(record))
            continue
        match = theirs[0]
        if match in linked_there or match in taken or match in also_taken or match in claimed:
            found.outcomes.append(Duplicate(record, mine[0], [], [match], True))
            continue
        claimed.add(match)
        found.pairs.append((record, match))
    return found
