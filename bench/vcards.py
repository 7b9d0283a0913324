"""The sync benchmark's people as vCards, for the peer (vdirsyncer) to sync filesystem <->
filesystem: the same N per side, drawn the same way as ``bench.sync`` seeds its two apps.

Side A holds what the Kustomer org holds (people ``[0, N)``, every fifth shared person with an
extra phone), side B what the Google user holds (people ``[N/2, 3N/2)``). A shared person has
one UID on both sides: vdirsyncer pairs items by UID, where Tandem pairs records by email.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from bench.common import extra_phone_of
from sandbox.demo_people import DemoPerson, demo_people

TIERS = ("bronze", "silver", "gold")
EXTENSION = ".vcf"
# RFC 6350 §3.2: lines longer than 75 octets are folded (CRLF and one space).
FOLD_OCTETS = 75


def escape(text: str) -> str:
    """A property value's text with the characters vCard gives a meaning escaped (§3.4)."""
    return (
        text.replace("\\", "\\\\")
        .replace(",", "\\,")
        .replace(";", "\\;")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """``line`` split into lines of at most 75 octets, continuations starting with a space,
    never inside a UTF-8 character."""
    parts: list[str] = []
    current, size, limit = "", 0, FOLD_OCTETS
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            parts.append(current)
            current, size, limit = "", 0, FOLD_OCTETS - 1
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)


def uid(index: int, seed: int = 42) -> str:
    return f"tandem-bench-{seed}-{index}"


def vcard(person: DemoPerson, index: int, *, seed: int = 42, extra_phone: bool = False) -> str:
    """One person as a vCard 3.0 (what vdirsyncer's examples and most servers use)."""
    phones = list(person.phones)
    if extra_phone:  # the same extra phone bench.sync gives a shared Kustomer customer
        phones.append(extra_phone_of(index))
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"UID:{uid(index, seed)}",
        f"FN:{escape(person.full_name)}",
        f"N:{escape(person.last_name)};{escape(person.first_name)};;;",
    ]
    lines += [f"EMAIL;TYPE=work:{escape(email)}" for email in person.emails]
    lines += [f"TEL;TYPE=cell:{escape(phone)}" for phone in phones]
    if person.company:
        lines.append(f"ORG:{escape(person.company)}")
    if person.job_title:
        lines.append(f"TITLE:{escape(person.job_title)}")
    lines += [f"X-LOYALTY-TIER:{TIERS[index % 3]}", "END:VCARD"]
    return "".join(fold(line) + "\r\n" for line in lines)


def sides(n: int, *, seed: int = 42) -> tuple[Iterator[tuple[str, str]], Iterator[tuple[str, str]]]:
    """The (UID, vCard) items of side A and of side B for N per side."""
    people = demo_people(n + n // 2, seed=seed)

    def side_a() -> Iterator[tuple[str, str]]:
        for index, person in enumerate(people[:n]):
            shared = index >= n // 2
            extra = shared and index % 5 == 0
            yield uid(index, seed), vcard(person, index, seed=seed, extra_phone=extra)

    def side_b() -> Iterator[tuple[str, str]]:
        for index, person in enumerate(people[n // 2 :], start=n // 2):
            yield uid(index, seed), vcard(person, index, seed=seed)

    return side_a(), side_b()


def write_side(directory: Path, items: Iterator[tuple[str, str]]) -> int:
    """Each item as ``<UID>.vcf`` in ``directory`` (vdirsyncer's filesystem storage layout)."""
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for item_uid, text in items:
        (directory / f"{item_uid}{EXTENSION}").write_bytes(text.encode())
        count += 1
    return count


def with_company(text: str, company: str) -> str:
    """The vCard ``text`` with its organisation replaced by ``company`` (added when absent)."""
    lines = unfolded(text)
    new = f"ORG:{escape(company)}"
    kept = [line for line in lines if not line.upper().startswith("ORG:")]
    end = kept.index("END:VCARD")
    kept.insert(end, new)
    return "".join(fold(line) + "\r\n" for line in kept)


def unfolded(text: str) -> list[str]:
    """The logical lines of a vCard (folded continuations joined)."""
    return text.replace("\r\n ", "").replace("\r\n\t", "").strip("\r\n").split("\r\n")


def company(text: str) -> str | None:
    for line in unfolded(text):
        if line.upper().startswith("ORG:"):
            return re.sub(r"\\(.)", lambda m: "\n" if m[1] in "nN" else m[1], line[4:])
    return None


def edit(path: Path, new_company: str) -> None:
    """Give the vCard at ``path`` a new company, as an editor saving it does: a new file
    renamed over the old one (new inode and modification time, the etag vdirsyncer sees)."""
    text = path.read_bytes().decode()
    scratch = path.with_name(f".{path.name}.edit")
    scratch.write_bytes(with_company(text, new_company).encode())
    os.replace(scratch, path)


def spread(names: list[str], count: int, *, offset: bool) -> list[str]:
    """``count`` of ``names`` spread evenly over them; ``offset`` takes the slots halfway
    between, so the two sides' edits never touch one item twice (as bench.sync's do)."""
    step = max(1, len(names) // count)
    return names[(step // 2 if offset else 0) :: step][:count]
