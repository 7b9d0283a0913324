"""Joining the parts of a name into one full name, and splitting a full name back.

A split name has four parts: an honorific prefix ("Dr.", "Rev. Dr."), the first name (with any
middle names), the last name (with its particles: "van der", "de la") and an honorific suffix
("Jr.", "III", "PhD"). Prefixes and suffixes never land in the first or last name, so an app
with fields for them (Google's ``honorificPrefix`` / ``honorificSuffix``) gets them there, and
an app without them gets them folded back in (``Name.folded``).

The split is lossless wherever it can be: every word of the full name lands in one part, in
order, so joining the split gives the full name back and a round trip never looks like an edit.
When a link's snapshot knows how the user split the name before, the split keeps it and moves
only the part that changed ("Mary Ann" + "Smith" becoming "Mary Ann Jones" changes only the
last name). New records fall back to ``nameparser``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nameparser import HumanName
from nameparser.config import CONSTANTS


def clean(value: str | None) -> str:
    """A name with its whitespace collapsed: the form names are compared and written in."""
    return " ".join((value or "").split())


def _part(value: Any) -> str:
    """One part of a name as ``Name.of`` keeps it: ``clean(str(value or ""))``."""
    return " ".join(str(value).split()) if value else ""


@dataclass(frozen=True)
class Name:
    prefix: str = ""
    first: str = ""
    last: str = ""
    suffix: str = ""

    @classmethod
    def of(cls, parts: Mapping[str, Any] | None) -> Name:
        """From the dict form (``as_dict``); missing parts are empty."""
        parts = parts or {}
        return cls(*(_part(parts.get(k)) for k in ("prefix", "first", "last", "suffix")))

    # The same answers as building a Name (``of``) and asking it, without building one: the
    # merge reads and converts a name per record.

    @staticmethod
    def dict_of(prefix: Any, first: Any, last: Any, suffix: Any) -> dict[str, str] | None:
        """``Name.of`` of these parts, ``as_dict``, or ``None`` when every part is empty."""
        prefix, first, last, suffix = _part(prefix), _part(first), _part(last), _part(suffix)
        if not (prefix or first or last or suffix):
            return None
        found = {"first": first, "last": last}
        if prefix:
            found["prefix"] = prefix
        if suffix:
            found["suffix"] = suffix
        return found

    @staticmethod
    def folded_dict(parts: Mapping[str, Any] | None) -> dict[str, str]:
        """``Name.of(parts).folded().as_dict()``."""
        get = (parts or {}).get
        prefix, first = _part(get("prefix")), _part(get("first"))
        last, suffix = _part(get("last")), _part(get("suffix"))
        return {"first": clean(f"{prefix} {first}"), "last": clean(f"{last} {suffix}")}

    @staticmethod
    def full_of(parts: Mapping[str, Any] | None) -> str:
        """``Name.of(parts).full``."""
        get = (parts or {}).get
        return clean(
            f"{_part(get('prefix'))} {_part(get('first'))} {_part(get('last'))} "
            f"{_part(get('suffix'))}"
        )

    def as_dict(self) -> dict[str, str]:
        """``first`` and ``last`` always; ``prefix`` and ``suffix`` only when set, so a name
        without them compares equal to snapshots taken before they existed."""
        found = {"first": self.first, "last": self.last}
        if self.prefix:
            found["prefix"] = self.prefix
        if self.suffix:
            found["suffix"] = self.suffix
        return found

    @property
    def full(self) -> str:
        return clean(f"{self.prefix} {self.first} {self.last} {self.suffix}")

    def folded(self) -> Name:
        """For an app with first and last names only: the prefix goes before the first name,
        the suffix after the last name."""
        return Name(
            first=clean(f"{self.prefix} {self.first}"), last=clean(f"{self.last} {self.suffix}")
        )

    def __bool__(self) -> bool:
        return bool(self.prefix or self.first or self.last or self.suffix)


def join(
    first: str | None, last: str | None, *, prefix: str | None = None, suffix: str | None = None
) -> str:
    return Name.of({"prefix": prefix, "first": first, "last": last, "suffix": suffix}).full


def split(
    full: str | None, *, previous_full: str | None = None, previous: Name | None = None
) -> Name:
    """Split ``full`` into its parts, keeping the previous split when only one part changed."""
    full = clean(full)
    if not full:
        return Name()
    if previous is not None and (previous.first or previous.last):
        kept = _keep_previous_split(full, previous)
        if kept is not None:
            return kept
    return parse(full)


def _keep_previous_split(full: str, previous: Name) -> Name | None:
    prefix = previous.prefix if previous.prefix and full.startswith(f"{previous.prefix} ") else ""
    rest = full[len(prefix) :].strip()
    suffix = previous.suffix if previous.suffix and rest.endswith(f" {previous.suffix}") else ""
    middle = rest[: len(rest) - len(suffix)].strip()
    kept = _keep_first_and_last(middle, previous.first, previous.last)
    if kept is None:
        return None
    name = Name(prefix, kept[0], kept[1], suffix)
    if (not prefix and _may_have_prefix(full)) or (not suffix and _may_have_suffix(full)):
        # A title or suffix typed into the changed part goes to its own field.
        name = _peel(name, parse(full))
    return name


def _keep_first_and_last(full: str, first: str, last: str) -> tuple[str, str] | None:
    if first and last and full == f"{first} {last}":
        return first, last
    # The first name the user chose is still at the front: only the last name changed.
    if first and full.startswith(f"{first} "):
        return first, full[len(first) + 1 :]
    # The last name is still at the end: only the first name changed.
    if last and full.endswith(f" {last}"):
        return full[: -len(last) - 1], last
    if first and full == first:
        return first, ""
    return None


def _peel(name: Name, parsed: Name) -> Name:
    prefix, first, last, suffix = name.prefix, name.first, name.last, name.suffix
    if not prefix and parsed.prefix and first.startswith(f"{parsed.prefix} "):
        prefix, first = parsed.prefix, first[len(parsed.prefix) + 1 :]
    if not suffix and parsed.suffix and last.endswith(f" {parsed.suffix}"):
        last, suffix = last[: -len(parsed.suffix) - 1], parsed.suffix
    return Name(prefix, first, last.rstrip(","), suffix)


def _word(word: str) -> str:
    return word.strip(".,").casefold()


def _may_have_prefix(full: str) -> bool:
    return _word(full.split(" ")[0]) in CONSTANTS.titles


def _may_have_suffix(full: str) -> bool:
    last = _word(full.split(" ")[-1])
    return last in CONSTANTS.suffix_acronyms or last in CONSTANTS.suffix_not_acronyms


def parse(full: str) -> Name:
    """Split a name never seen before, with ``nameparser`` deciding where each part starts."""
    return _parse(clean(full))


@functools.lru_cache(maxsize=16384)
def _parse(full: str) -> Name:
    # nameparser takes a few hundred µs a name and a run meets the same names more than once
    # (people share names; a record is read again after its write): hence the cache. A Name
    # is frozen, so the cached one is safe to hand out.
    words = full.split(" ")
    if len(words) < 2:
        return Name(first=full)
    plain = not _may_have_prefix(full) and not _may_have_suffix(full)
    if len(words) == 2 and "," not in full and plain:
        # The last name cannot start at the first word, so two words always split in the
        # middle, whatever nameparser makes of them; it is slow, and most names are two.
        return Name(first=words[0], last=words[1])
    parsed = HumanName(full)
    prefix = _leading(words, parsed.title.split())
    suffix_words = _trailing(words[prefix:], parsed.suffix.split())
    core = words[prefix : len(words) - suffix_words]
    if not core:  # all of it looked like titles or suffixes: keep the words as a name
        prefix, suffix_words, core = 0, 0, words
    name_prefix = " ".join(words[:prefix])
    name_suffix = " ".join(words[len(words) - suffix_words :]) if suffix_words else ""
    core_text = " ".join(core)
    if "," in core_text and parsed.last:
        # "Smith, John": no split of the words in order can join back, so use the parts.
        first = clean(f"{parsed.first} {parsed.middle}")
        return Name(name_prefix, first, clean(parsed.last), name_suffix)
    if len(core) == 1:
        alone = core[0].rstrip(",")
        if parsed.last and not parsed.first and alone.casefold() == parsed.last.casefold():
            return Name(name_prefix, "", alone, name_suffix)  # "Dr. Who"
        return Name(name_prefix, alone, "", name_suffix)
    start = _last_name_start(core, parsed.last.split())
    if start is None:
        start = len(core) - 1
    last = " ".join(core[start:])
    if name_suffix:
        last = last.rstrip(",")  # "John Smith, Jr."
    return Name(name_prefix, " ".join(core[:start]), last, name_suffix)


def _leading(words: list[str], title: list[str]) -> int:
    """How many of ``words`` from the front are the parsed title's words."""
    wanted = [_word(w) for w in title]
    if wanted and [_word(w) for w in words[: len(wanted)]] == wanted:
        return len(wanted)
    return 0


def _trailing(words: list[str], suffix: list[str]) -> int:
    """How many of ``words`` at the end are the parsed suffix's words."""
    wanted = [_word(w) for w in suffix]
    if wanted and len(words) > len(wanted) and [_word(w) for w in words[-len(wanted) :]] == wanted:
        return len(wanted)
    return 0


def _last_name_start(words: list[str], last_words: list[str]) -> int | None:
    if not last_words:
        return None
    wanted = [w.strip(",").casefold() for w in last_words]
    folded = [w.strip(",").casefold() for w in words]
    # The last occurrence: "John Smith Smith" keeps the first "Smith" as a middle name.
    for start in range(len(words) - len(wanted), 0, -1):
        if folded[start : start + len(wanted)] == wanted:
            return start
    return None
