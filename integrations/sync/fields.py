"""The vocabulary of fields the engine and the connectors share: field types, the fields an app
offers, name styles and app-specific conditions. Connectors declare theirs with these; the engine
reads them. Plain data, no Django, no HTTP."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from integrations.sync.records import Contact


class FieldType(enum.StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    URL = "url"
    EMAIL = "email"
    PHONE = "phone"
    ENUM = "enum"
    # The composite name (first + last, or one full name); see sync/names.py.
    NAME = "name"
    # Tags or labels: a list of names.
    TAGS = "tags"
    # A postal address: a dict with the keys of ``ADDRESS_PARTS``.
    ADDRESS = "address"


# The parts of an address value, in the order they are written out as text.
ADDRESS_PARTS = ("street", "city", "region", "postal_code", "country")


class NameStyle(enum.StrEnum):
    FULL = "full"  # one full-name field (Kustomer)
    SPLIT = "split"  # given + family names (Google)


@dataclass(frozen=True)
class FieldSpec:
    """One field an app offers. ``canonical`` names the concept it holds when two apps share it
    (``"email"``, ``"company"`` ...); default mappings pair fields with the same canonical name."""

    key: str
    label: str
    type: FieldType
    multi: bool = False
    read_only: bool = False
    choices: tuple[str, ...] = ()
    canonical: str = ""
    custom: bool = False


@dataclass(frozen=True)
class ConditionSpec:
    """An app-specific condition (Kustomer sentiment, Google "has label" ...). ``evaluate`` reads
    only the record, so conditions stay pure and testable."""

    key: str
    label: str
    evaluate: Callable[[Contact, Any], bool]
    choices: tuple[str, ...] = ()
    needs_value: bool = True
