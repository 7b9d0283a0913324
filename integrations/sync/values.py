"""Values by field type, normalized: the comparable, JSON-able form of what an app holds (a
phone in E.164, a date in ISO form, tags sorted, every kind of empty as ``None``). Mappings
(``sync/mapping.py``) compare and convert these."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers

from integrations.sync import names
from integrations.sync.fields import ADDRESS_PARTS, FieldSpec, FieldType, NameStyle


def _text(value: Any) -> str | None:
    text = str(value).strip()
    return text or None


def _line(value: Any) -> str | None:
    text = " ".join(str(value).split())
    return text or None


def _email(value: Any) -> str | None:
    text = str(value).strip().casefold()
    return text or None


def normalize_phone(value: Any) -> str | None:
    return _phone(str(value).strip())


# Phones as normalized, by the text they were read from: parsing takes tens of µs and a run
# meets the same numbers several times (read, convert, compare). Emptied when full.
_PHONES: dict[str, str | None] = {}
PHONES_KEPT = 65_536
_UNSEEN: Any = object()


def _phone(text: str) -> str | None:
    found = _PHONES.get(text, _UNSEEN)
    if found is not _UNSEEN:
        return found
    found, e164 = _parse_phone(text)
    if len(_PHONES) >= PHONES_KEPT:
        _PHONES.clear()
    _PHONES[text] = found
    if e164 and found is not None:
        # An E.164 form parses back to itself: a value converted for the other side (already
        # normalized) is not parsed again.
        _PHONES[found] = found
    return found


def clear_phone_cache() -> None:
    _PHONES.clear()


def _parse_phone(text: str) -> tuple[str | None, bool]:
    """E.164 when the text is a possible number (and ``True``); else the text itself."""
    if not text:
        return None, False
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return " ".join(text.split()), False
    if not phonenumbers.is_possible_number(parsed):
        return " ".join(text.split()), False
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), True


def _number(value: Any) -> int | float | str | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        number: Any = value
    else:
        text = str(value).strip().replace(",", "")
        if not text:
            return None
        try:
            number = Decimal(text)
        except InvalidOperation:
            return text
    if float(number) == int(number):
        return int(number)
    return float(number)


_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})


def _boolean(value: Any) -> bool | str | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().casefold()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return text


def _date(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return text


def _datetime(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat()


def _address(value: Any) -> dict[str, str] | None:
    """An address as its non-empty parts. The kind ("work", "home") is left out: apps name
    kinds differently, and a kind alone never makes two addresses different places."""
    if isinstance(value, str):
        value = {"street": value}
    if not isinstance(value, dict):
        return None
    parts = {key: " ".join(str(value.get(key) or "").split()) for key in ADDRESS_PARTS}
    kept = {key: part for key, part in parts.items() if part}
    return kept or None


def address_text(value: dict[str, str]) -> str:
    return ", ".join(value[key] for key in ADDRESS_PARTS if value.get(key))


SCALAR_NORMALIZERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.TEXT: _text,
    FieldType.LONG_TEXT: _text,
    FieldType.URL: _text,
    FieldType.ENUM: _text,
    FieldType.TAGS: _text,
    FieldType.EMAIL: _email,
    FieldType.PHONE: normalize_phone,
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.DATETIME: _datetime,
    FieldType.NAME: _line,
    FieldType.ADDRESS: _address,
}


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def normalize(value: Any, spec: FieldSpec) -> Any:
    """The comparable, JSON-able form of ``value``; every kind of empty becomes ``None``."""
    return normalizer_for(spec)(value)


def normalizer_for(spec: FieldSpec) -> Callable[[Any], Any]:
    """``normalizer(spec)``, also for a spec built with unhashable choices (a list), which gets
    one made for it instead of a cached one."""
    try:
        return normalizer(spec)
    except TypeError:
        return normalizer.__wrapped__(spec)


@functools.lru_cache(maxsize=1024)
def normalizer(spec: FieldSpec) -> Callable[[Any], Any]:
    """``normalize`` for one field, with the choices that depend only on the field (its type,
    one value or many) made once: mappings keep it and call it for every record they read."""
    scalar = SCALAR_NORMALIZERS[spec.type]
    if not (spec.multi or spec.type == FieldType.TAGS):

        def one(value: Any) -> Any:
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            if value is None or value == "" or value == [] or value == {}:
                return None
            return scalar(value)

        return one
    tags = spec.type == FieldType.TAGS

    def many(value: Any) -> Any:
        items = value if isinstance(value, list | tuple) else [value]
        seen: dict[Any, Any] = {}
        for item in items:
            if item is None or item == "" or item == [] or item == {}:
                continue
            normalized = scalar(item)
            if normalized is not None:
                # Addresses are dicts: dedupe them by their parts.
                key = (
                    tuple(sorted(normalized.items()))
                    if isinstance(normalized, dict)
                    else normalized
                )
                if key not in seen:
                    seen[key] = normalized
        if not seen:
            return None
        values = list(seen.values())
        if tags:
            values.sort()
        return values

    return many


def normalize_name(value: Any, style: NameStyle) -> Any:
    """A full name as one string; a split one as ``{"first", "last"}`` plus ``prefix`` and
    ``suffix`` when set (see ``names.Name.as_dict``)."""
    if style == NameStyle.FULL:
        return names.clean(value if isinstance(value, str) else "") or None
    if not isinstance(value, dict):
        return None
    get = value.get
    return names.Name.dict_of(get("prefix"), get("first"), get("last"), get("suffix"))
