"""Joining first + last names into one full name, and splitting a full name back.

The split is lossless wherever it can be: every word of the full name lands in the first or the
last name, so joining the split gives the full name back and a round trip never looks like an
edit. When a link's snapshot knows how the user split the name before, the split keeps it and
moves only the part that changed ("Mary Ann" + "Smith" becoming "Mary Ann Jones" changes only the
last name). New records fall back to ``nameparser``: titles and middle names go with the first
name; particles ("van der", "de la") and suffixes ("Jr.", "III") go with the last name.
"""

from __future__ import annotations

from nameparser import HumanName


def clean(value: str | None) -> str:
    """A name with its whitespace collapsed: the form names are compared and written in."""
    return " ".join((value or "").split())


def join(first: str | None, last: str | None) -> str:
    return clean(f"{clean(first)} {clean(last)}")


def split(
    full: str | None,
    *,
    previous_full: str | None = None,
    previous_first: str | None = None,
    previous_last: str | None = None,
) -> tuple[str, str]:
    """Split ``full`` into (first, last), keeping the previous split when only one part changed."""
    full = clean(full)
    if not full:
        return "", ""
    kept = _keep_previous_split(full, clean(previous_first), clean(previous_last))
    if kept is not None:
        return kept
    return parse(full)


def _keep_previous_split(full: str, first: str, last: str) -> tuple[str, str] | None:
    if not first and not last:
        return None
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


def parse(full: str) -> tuple[str, str]:
    """Split a name never seen before, with ``nameparser`` deciding where the last name starts."""
    full = clean(full)
    words = full.split(" ")
    if len(words) < 2:
        return full, ""
    if len(words) == 2 and "," not in full:
        # The last name cannot start at the first word, so two words always split in the
        # middle, whatever nameparser makes of them; it is slow, and most names are two words.
        return words[0], words[1]
    parsed = HumanName(full)
    if "," in full and parsed.last and not full.endswith(f", {parsed.suffix}"):
        # "Smith, John": no split of the words in order can join back, so use the parts.
        first = clean(f"{parsed.title} {parsed.first} {parsed.middle}")
        return first, clean(f"{parsed.last} {parsed.suffix}")
    start = _last_name_start(words, parsed.last.split())
    if start is None:
        start = len(words) - 1
    return " ".join(words[:start]), " ".join(words[start:])


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
