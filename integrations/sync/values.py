"""Values by field type, normalized: the comparable, JSON-able form of what an app holds (a
phone in E.164, a date in ISO form, tags sorted, every kind of empty as ``None``). Mappings
(``sync/mapping.py``) compare and convert these."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from phonenumbers import phonenumberutil

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
# meets the same numbers several times (read, convert, compare), nearly all within the group
# a record is in. Emptied when full. A scan of 30,000 a side parses 56,248 texts with 16,384
# kept, 55,497 with 65,536 kept; and 65,536 of them cost about 7 MB, some of the peak.
_PHONES: dict[str, str | None] = {}
PHONES_KEPT = 16_384
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
    plain = _plain_phone(text) if _PLAIN_PHONE.fullmatch(text) else None
    if plain is not None:
        # is_possible_number and format_number(E164) of the number parse builds: its national
        # significant number is ``national`` (leading zeros included) and its country code a
        # known one, so the first is the length test of that number against that metadata
        # and the second "+", the country code and that number.
        country_code, national, metadata = plain
        if phonenumberutil._test_number_length(national, metadata) in _POSSIBLE:
            return f"+{country_code}{national}", True
        return " ".join(text.split()), False
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return " ".join(text.split()), False
    if not phonenumbers.is_possible_number(parsed):
        return " ".join(text.split()), False
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), True


# A phone written "+", then digits with spaces, hyphens, parentheses or dots between them (the
# way apps and people write international numbers): ``phonenumbers.parse`` spends most of its
# time (about 15 of 18 µs) on what such a text never has: an RFC 3966 ``tel:`` URI, a leading
# "Tel:", an extension ("ext. 12", "x12", "#", ",,"), letters, non-ASCII digits, a second
# number. ``_plain_phone`` takes the steps ``parse`` takes for the rest, calling the library's
# own functions for each judgement (the country code, the national prefix, the lengths), so it
# finds what ``parse`` finds; any other branch goes to ``parse`` itself. The tests hold both to
# the library's answers over every region's example numbers, written several ways, and over
# random digits.
_PLAIN_PHONE = re.compile(r"\+[0-9 ().\-]*[0-9]")
_SEPARATORS = str.maketrans("", "", " ().-")
_Results = phonenumberutil.ValidationResult
_KEPT_UNSTRIPPED = frozenset(
    {_Results.TOO_SHORT, _Results.IS_POSSIBLE_LOCAL_ONLY, _Results.INVALID_LENGTH}
)
_POSSIBLE = frozenset({_Results.IS_POSSIBLE, _Results.IS_POSSIBLE_LOCAL_ONLY})
# The phone metadata of a country code, as ``parse`` looks it up (the library loads each
# region's once and keeps it: this only saves the two calls that find it).
_METADATA: dict[int, Any] = {}


def _plain_phone(text: str) -> tuple[int, str, Any] | None:
    """What ``phonenumbers.parse(text, None)`` finds in a text ``_PLAIN_PHONE`` matches whole:
    the country code, the national significant number (its leading zeros kept, so the
    number's ``national_significant_number``) and the country's metadata; ``None`` where
    ``parse`` would take another branch than a plain number's (an error, an unknown country
    code, a number too short or too long), for the caller to ask ``parse``.

    The steps of ``parse`` skipped here change nothing for such a text: it is its own
    "possible number" (it starts with "+" and ends with a digit, no ``tel:`` URI, no
    ``;isub=``, no "/x" second number), holds no extension (every extension pattern needs a
    label, a "#", a comma or a semicolon) and is viable ("+" and punctuation around three
    digits or more, checked below by the digits' count). After the "+", ``parse`` reduces it
    to its digits, and from there on only the digits decide: these are the steps below.
    """
    if len(text) > phonenumberutil._MAX_INPUT_STRING_LENGTH:
        return None
    digits = text[1:].replace(" ", "")
    if not digits.isdigit():  # hyphens, parentheses or dots too (translate is slower)
        digits = digits.translate(_SEPARATORS)
    if len(digits) <= phonenumberutil._MIN_LENGTH_FOR_NSN:
        return None  # not viable, or too short after the "+": parse raises
    country_code, national = phonenumberutil._extract_country_code(digits)
    if country_code == 0 or len(national) < phonenumberutil._MIN_LENGTH_FOR_NSN:
        return None
    metadata = _METADATA.get(country_code)
    if metadata is None:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
            country_code, phonenumbers.region_code_for_country_code(country_code)
        )
        if metadata is None:
            return None
        _METADATA[country_code] = metadata
    _, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(national, metadata)
    if (
        stripped != national
        and phonenumberutil._test_number_length(stripped, metadata) not in _KEPT_UNSTRIPPED
    ):
        national = stripped
    if not (
        phonenumberutil._MIN_LENGTH_FOR_NSN <= len(national) <= phonenumberutil._MAX_LENGTH_FOR_NSN
    ):
        return None
    return country_code, national, metadata


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
    general = _general_normalizer(spec)
    if SCALAR_NORMALIZERS[spec.type] not in _STRING_SCALARS:
        return general
    # Text, emails and phones: a plain ``str`` (or a list of them, as apps send them) goes
    # straight to the type's scalar normalizer, without the general path's checks.
    scalar = SCALAR_NORMALIZERS[spec.type]
    if not (spec.multi or spec.type == FieldType.TAGS):

        def one_string(value: Any) -> Any:
            if value.__class__ is not str:
                return general(value)
            return scalar(value)

        return one_string
    tags = spec.type == FieldType.TAGS

    def many_strings(value: Any) -> Any:
        # A contact's few emails or phones are deduplicated in a list (cheaper than the
        # general path's dict at that size); a long list takes the general path.
        if value.__class__ is not list or len(value) > _SHORT_LIST:
            return general(value)
        found: list[Any] = []
        for item in value:
            if item.__class__ is not str:
                return general(value)
            if not item:
                continue
            normalized = scalar(item)
            if normalized is not None and normalized not in found:
                found.append(normalized)
        if not found:
            return None
        if tags:
            found.sort()
        return found

    return many_strings


_SHORT_LIST = 8
# The scalar normalizers whose answer for a plain ``str`` needs none of the general path's
# checks (``normalizer``'s fast paths).
_STRING_SCALARS = (_text, _email, normalize_phone)


def _general_normalizer(spec: FieldSpec) -> Callable[[Any], Any]:
    """``normalizer(spec)`` for any value, by the type's scalar normalizer."""
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
