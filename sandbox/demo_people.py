"""Deterministic, realistic people for the sandboxes' demo data and the benchmarks.

The same ``seed`` gives the same people, so the Kustomer and Google demo accounts can overlap by
email: both draw from ``demo_people()``.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass

FIRST_NAMES = [
    "Mary Ann", "Jean-Luc", "Anna", "José", "Zoë", "Björn", "Siobhán", "Mohammed", "Wei", "Aiko",
    "Olu", "Priya", "Lars", "Chloé", "Mateus", "Noor", "Hannah", "Liam", "Sofia", "Ahmed",
    "Ingrid", "Kwame", "Marie", "John", "Emily", "Raúl", "Fatima", "Yusuf", "Eleanor", "Tomás",
    "Ana Sofia", "Pieter", "Greta", "Dmitri", "Camille", "Ravi", "Lucía", "Henrik", "Amara", "Jon",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "van der Berg", "O'Brien", "García Márquez", "de la Cruz", "Müller", "Nguyen",
    "Okafor", "Kowalski", "Rossi", "van Dijk", "Dubois", "Johansson", "Tanaka", "Haddad",
    "MacDonald", "Silva", "da Costa", "Schmidt", "Kim", "Novak", "Fitzgerald", "Ó Súilleabháin",
    "Andersen", "Le Roux", "Papadopoulos", "Ivanova", "Chen", "Patel", "Brown", "Jones",
    "St. John", "von Trapp", "Al-Sayed", "Mbeki", "Laurent", "Bianchi", "Eriksson", "Walker",
]  # fmt: skip
COMPANIES = [
    "Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Industries", "Wayne Logistics",
    "Hooli", "Vandelay Imports", "Soylent Foods", "Tyrell Systems", "Wonka Confectionery",
    "Cyberdyne", "Oceanic Air", "Gringotts Bank", "Nakatomi Trading", "",
]  # fmt: skip
JOB_TITLES = [
    "Head of Support", "Account Manager", "CTO", "Office Manager", "Buyer", "Founder",
    "Customer Success Lead", "Operations Director", "Marketing Manager", "",
]  # fmt: skip
PLACES = [
    ("Amsterdam", "NL", "+31 20"), ("Ghent", "BE", "+32 9"), ("Dublin", "IE", "+353 1"),
    ("Madrid", "ES", "+34 91"), ("Berlin", "DE", "+49 30"), ("Lyon", "FR", "+33 4"),
    ("Austin", "US", "+1 512"), ("Toronto", "CA", "+1 416"), ("Lagos", "NG", "+234 1"),
    ("Tokyo", "JP", "+81 3"), ("Stockholm", "SE", "+46 8"), ("London", "GB", "+44 20"),
]  # fmt: skip
DOMAINS = ["example.com", "example.org", "example.net", "mail.example", "corp.example"]


@dataclass(frozen=True)
class DemoPerson:
    first_name: str
    last_name: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    company: str
    job_title: str
    city: str
    country: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _phone(rng: random.Random, prefix: str, dialed: set[str]) -> str:
    """A phone number under ``prefix`` whose digits no earlier one had: drawn again on a
    repeat, so the draws (and the people after them) only change where one repeated."""
    while True:
        phone = f"{prefix} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        digits = "".join(ch for ch in phone if ch.isdigit())
        if digits not in dialed:
            dialed.add(digits)
            return phone


def demo_people(count: int = 300, *, seed: int = 42) -> list[DemoPerson]:
    """``count`` distinct people with unique emails and unique phones (by their digits, as an
    app that refuses a phone twice compares them); the same seed gives the same people."""
    rng = random.Random(seed)
    people: list[DemoPerson] = []
    used: set[str] = set()
    dialed: set[str] = set()
    for index in range(count):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        city, country, prefix = rng.choice(PLACES)
        company = rng.choice(COMPANIES)
        local = f"{_ascii(first)}.{_ascii(last)}"
        email = f"{local}@{rng.choice(DOMAINS)}"
        if email in used:
            email = f"{local}{index}@{rng.choice(DOMAINS)}"
        used.add(email)
        emails = [email]
        if rng.random() < 0.2:
            second = f"{_ascii(first)[0]}{_ascii(last)}{index}@work.example"
            used.add(second)
            emails.append(second)
        phones = [_phone(rng, prefix, dialed)]
        if rng.random() < 0.15:
            phones.append(_phone(rng, prefix, dialed))
        people.append(
            DemoPerson(
                first_name=first,
                last_name=last,
                emails=tuple(emails),
                phones=tuple(phones),
                company=company,
                job_title=rng.choice(JOB_TITLES) if company else "",
                city=city,
                country=country,
            )
        )
    return people
