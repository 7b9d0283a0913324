"""Field mappings: which field on A pairs with which on B, which way values may flow, how a value
is converted on the way, and the normalized form two values are compared in.

Everything here is pure. Values are compared normalized (``sync/values.py``: emails
case-folded, phones in E.164 when ``phonenumbers`` can parse them, dates in ISO form ...), so two
apps formatting the same value differently never look like an edit. Snapshots hold normalized
values too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from integrations.sync import names
from integrations.sync.fields import FieldSpec, FieldType, NameStyle
from integrations.sync.records import (
    FIRST_NAME,
    FULL_NAME,
    LAST_NAME,
    NAME,
    NAME_PREFIX,
    NAME_SUFFIX,
    Contact,
)
from integrations.sync.sides import Direction, other
from integrations.sync.values import (
    _boolean,
    _date,
    _datetime,
    _email,
    _number,
    address_text,
    is_empty,
    normalize_name,
    normalize_phone,
    normalizer_for,
)
from integrations.sync.values import normalize as normalize  # conditions and actions use it

CANONICAL_FULL_NAME = "name.full"
CANONICAL_FIRST_NAME = "name.first"
CANONICAL_LAST_NAME = "name.last"
NAME_CANONICALS = frozenset({CANONICAL_FULL_NAME, CANONICAL_FIRST_NAME, CANONICAL_LAST_NAME})


class _Unconvertible:
    """A value that has no counterpart on the other side (an enum choice missing from the map,
    text that is no number): the field is left alone rather than written wrong."""

    def __repr__(self) -> str:
        return "UNCONVERTIBLE"


UNCONVERTIBLE: Any = _Unconvertible()

TEXT_TYPES = frozenset({FieldType.TEXT, FieldType.LONG_TEXT})

# Directed flows source type -> target type that DESIGN.md §5 allows. A pair listed both ways
# maps both ways; one listed one way maps only that way; anything absent is refused.
_BOTH_WAYS: tuple[tuple[FieldType, FieldType], ...] = (
    (FieldType.TEXT, FieldType.TEXT),
    (FieldType.LONG_TEXT, FieldType.LONG_TEXT),
    (FieldType.LONG_TEXT, FieldType.TEXT),
    (FieldType.NUMBER, FieldType.NUMBER),
    (FieldType.BOOLEAN, FieldType.BOOLEAN),
    (FieldType.DATE, FieldType.DATE),
    (FieldType.DATETIME, FieldType.DATETIME),
    (FieldType.DATE, FieldType.DATETIME),
    (FieldType.EMAIL, FieldType.EMAIL),
    (FieldType.EMAIL, FieldType.TEXT),
    (FieldType.PHONE, FieldType.PHONE),
    (FieldType.PHONE, FieldType.TEXT),
    (FieldType.URL, FieldType.URL),
    (FieldType.URL, FieldType.TEXT),
    (FieldType.ENUM, FieldType.ENUM),
    (FieldType.TAGS, FieldType.TAGS),
    (FieldType.NAME, FieldType.NAME),
    (FieldType.ADDRESS, FieldType.ADDRESS),
)
_ONE_WAY: tuple[tuple[FieldType, FieldType], ...] = tuple(
    (source, target)
    for source in (
        FieldType.NUMBER,
        FieldType.BOOLEAN,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.ENUM,
        FieldType.ADDRESS,
    )
    for target in TEXT_TYPES
)
ALLOWED_FLOWS: frozenset[tuple[FieldType, FieldType]] = frozenset(
    [*_BOTH_WAYS, *((b, a) for a, b in _BOTH_WAYS), *_ONE_WAY]
)

TYPE_LABELS: dict[FieldType, str] = {
    FieldType.TEXT: "text",
    FieldType.LONG_TEXT: "long text",
    FieldType.NUMBER: "number",
    FieldType.BOOLEAN: "yes/no",
    FieldType.DATE: "date",
    FieldType.DATETIME: "date and time",
    FieldType.URL: "URL",
    FieldType.EMAIL: "email",
    FieldType.PHONE: "phone",
    FieldType.ENUM: "dropdown",
    FieldType.NAME: "name",
    FieldType.TAGS: "tags",
    FieldType.ADDRESS: "address",
}


def flow_refusal(
    source: FieldSpec, target: FieldSpec, *, value_map: MappingABC[str, str] | None = None
) -> str:
    """Why values of ``source`` may not flow into ``target``; empty when they may."""
    if target.read_only:
        return f"{target.label} is read-only in its app, so nothing can be written to it."
    pair = (source.type, target.type)
    if source.type in TEXT_TYPES and target.type == FieldType.ENUM:
        # Free text reaches a dropdown only through a value map naming a choice for each text.
        if value_map:
            return ""
        return (
            f"{source.label} is free text and {target.label} is a dropdown: map the texts to the "
            "dropdown's choices (a value map) to sync this way."
        )
    if pair not in ALLOWED_FLOWS:
        src, tgt = TYPE_LABELS[source.type], TYPE_LABELS[target.type]
        if source.type in TEXT_TYPES and target.type in (FieldType.NUMBER, FieldType.BOOLEAN):
            return (
                f"{source.label} is free text and {target.label} is a {tgt} field: "
                f"text is not always a valid {tgt}, so it can only flow the other way."
            )
        if target.type in TEXT_TYPES:
            return (
                f"A {src} field can be copied into text, but text cannot flow into a {src} field."
            )
        return (
            f"{source.label} is a {src} field and {target.label} is a {tgt} field: "
            "they hold different kinds of data."
        )
    if pair == (FieldType.ENUM, FieldType.ENUM) and not value_map:
        return (
            f"{source.label} and {target.label} are both dropdowns: map each choice of one to a "
            "choice of the other (a value map) to sync them."
        )
    return ""


def mapping_refusals(
    spec_a: FieldSpec,
    spec_b: FieldSpec,
    *,
    direction: str = Direction.TWO_WAY,
    value_map: MappingABC[str, str] | None = None,
) -> list[str]:
    """Why a mapping of ``spec_a`` and ``spec_b`` in ``direction`` is refused; empty if allowed."""
    if direction not in set(Direction):
        return [f"Unknown direction {direction!r}."]
    reasons = []
    if Direction(direction).flows_from("a"):
        reasons.append(flow_refusal(spec_a, spec_b, value_map=value_map))
    if Direction(direction).flows_from("b"):
        inverse = {v: k for k, v in (value_map or {}).items()}
        reasons.append(flow_refusal(spec_b, spec_a, value_map=inverse))
    return [reason for reason in reasons if reason]


def value_map_problem(value: object) -> str:
    """What is wrong with a stored value map, or ``""``: it must be an object whose keys and
    values are texts (a dropdown value on one side -> the value on the other)."""
    if not isinstance(value, dict):
        return f"is {type(value).__name__}, not an object of values"
    bad = [key for key, mapped in value.items() if not isinstance(mapped, str)]
    if bad:
        return f"maps {bad[0]!r} to something that is not a text"
    return ""


def validate_mapping(
    spec_a: FieldSpec,
    spec_b: FieldSpec,
    *,
    direction: str = Direction.TWO_WAY,
    value_map: MappingABC[str, str] | None = None,
) -> None:
    reasons = mapping_refusals(spec_a, spec_b, direction=direction, value_map=value_map)
    if reasons:
        raise ValidationError(" ".join(reasons), code="incompatible_fields")
    if value_map:
        _validate_value_map(spec_a, spec_b, value_map)


def _validate_value_map(
    spec_a: FieldSpec, spec_b: FieldSpec, value_map: MappingABC[str, str]
) -> None:
    unknown_a = [k for k in value_map if spec_a.choices and k not in spec_a.choices]
    unknown_b = [v for v in value_map.values() if spec_b.choices and v not in spec_b.choices]
    if unknown_a or unknown_b:
        raise ValidationError(
            "The value map names choices the fields do not offer: "
            + ", ".join(repr(v) for v in [*unknown_a, *unknown_b]),
            code="unknown_choices",
        )


def widest_direction(
    spec_a: FieldSpec, spec_b: FieldSpec, value_map: MappingABC[str, str] | None = None
) -> str | None:
    """The most a mapping of these two fields may do: both ways, one way, or nothing (None)."""
    for direction in Direction:
        if not mapping_refusals(spec_a, spec_b, direction=direction, value_map=value_map):
            return direction
    return None


# -- Compiled mappings --------------------------------------------------------------------------


# The parts of a split name an app may hold, as ``name_spec`` lists them in ``choices``.
HONORIFIC_PARTS = ("prefix", "suffix")


def name_spec(fields: Iterable[FieldSpec], style: NameStyle) -> FieldSpec:
    """The composite name field of a side, read-only when the app's name fields are. Its
    ``choices`` are the name parts the app holds: a split name has ``prefix`` and ``suffix``
    only where the app offers fields for them (else they are folded into first and last)."""
    fields = list(fields)
    wanted = FULL_NAME if style == NameStyle.FULL else FIRST_NAME
    read_only = any(spec.read_only for spec in fields if spec.key == wanted)
    keys = {spec.key for spec in fields}
    parts: tuple[str, ...] = ("full",) if style == NameStyle.FULL else ("first", "last")
    if style == NameStyle.SPLIT and {NAME_PREFIX, NAME_SUFFIX} <= keys:
        parts = ("prefix", "first", "last", "suffix")
    return FieldSpec(
        key=NAME, label="Name", type=FieldType.NAME, read_only=read_only, choices=parts
    )


def spec_for(key: str, fields: MappingABC[str, FieldSpec], style: NameStyle) -> FieldSpec | None:
    if key == NAME:
        return name_spec(fields.values(), style)
    return fields.get(key)


Reader = Callable[[MappingABC[str, Any]], Any]
# ``Mapping.convert`` out of one side: (value, target_now, snap_source, snap_target).
Converter = Callable[[Any, Any, Any, Any], Any]


class _Made:
    """What the merge asks of a mapping for every field of every pair, made once per mapping
    (``Mapping.__post_init__``). Its slots keep it out of the mapping's ``__dict__``, which
    holds the fields alone, and out of its fields (equality, ``repr``)."""

    __slots__ = (
        "_changers",
        "_converters",
        "_equivalence_order",
        "_flows",
        "_honorifics",
        "_inverse_map",
        "_normalizers",
        "readers",
        "reads",
    )
    _changers: dict[str, Callable[[Any], dict[str, Any]]]
    _converters: dict[str, Converter]
    _equivalence_order: tuple[tuple[str, str], tuple[str, str]]
    _flows: dict[str, bool]
    _honorifics: dict[str, bool]
    _inverse_map: dict[str, str]
    _normalizers: dict[str, Callable[[Any], Any]]
    # Per side, ``Mapping.read`` of a record's values.
    readers: dict[str, Reader]
    # What the merge asks first of every field: (field_a, field_b, reader of A, reader of B).
    reads: tuple[str, str, Reader, Reader]


@dataclass(frozen=True)
class Mapping(_Made):
    """One enabled field mapping, with both fields' specs and each side's name style."""

    field_a: str
    field_b: str
    spec_a: FieldSpec
    spec_b: FieldSpec
    style_a: NameStyle
    style_b: NameStyle
    direction: str = Direction.TWO_WAY
    value_map: dict[str, str] = field(default_factory=dict)

    def key(self, side: str) -> str:
        return self.field_a if side == "a" else self.field_b

    def spec(self, side: str) -> FieldSpec:
        return self.spec_a if side == "a" else self.spec_b

    def style(self, side: str) -> NameStyle:
        return self.style_a if side == "a" else self.style_b

    def __post_init__(self) -> None:
        inverse = {v: k for k, v in self.value_map.items()}
        object.__setattr__(self, "_inverse_map", inverse)
        flows = {
            source: Direction(self.direction).flows_from(source)
            and not flow_refusal(
                self.spec(source), self.spec(other(source)), value_map=self._map_from(source)
            )
            for source in ("a", "b")
        }
        object.__setattr__(self, "_flows", flows)
        # Whether a side's split name holds a prefix and suffix of its own (else they are
        # folded into the first and last names).
        honorifics = {s: set(HONORIFIC_PARTS) <= set(self.spec(s).choices) for s in ("a", "b")}
        object.__setattr__(self, "_honorifics", honorifics)
        normalizers = {side: normalizer_for(self.spec(side)) for side in ("a", "b")}
        object.__setattr__(self, "_normalizers", normalizers)
        # What depends only on the mapping (the field's key, type and name style) is decided
        # here, once.
        readers = {side: self._reader(side) for side in ("a", "b")}
        object.__setattr__(self, "readers", readers)
        object.__setattr__(self, "reads", (self.field_a, self.field_b, readers["a"], readers["b"]))
        converters = {source: self._converter(source) for source in ("a", "b")}
        object.__setattr__(self, "_converters", converters)
        changers = {side: self._changer(side) for side in ("a", "b")}
        object.__setattr__(self, "_changers", changers)
        # Joining names is cheap and splitting them is not: ``equivalent`` tries the joining
        # direction first. Pairs of (source, target).
        joins_first = self.field_a == NAME and self.style_b == NameStyle.SPLIT
        order = (("b", "a"), ("a", "b")) if joins_first else (("a", "b"), ("b", "a"))
        object.__setattr__(self, "_equivalence_order", order)

    def flows(self, source: str) -> bool:
        """Whether this mapping lets values flow from ``source`` to the other side."""
        return self._flows[source]

    def _map_from(self, source: str) -> dict[str, str]:
        if source == "a":
            return self.value_map
        return self._inverse_map

    def read(self, side: str, contact: Contact | MappingABC[str, Any]) -> Any:
        """The normalized value of this mapping's field on ``side``'s record."""
        values = contact.values if isinstance(contact, Contact) else contact
        return self.readers[side](values)

    def _reader(self, side: str) -> Reader:
        key = self.key(side)
        if key == NAME and self.style(side) == NameStyle.FULL:

            def full_name(values: MappingABC[str, Any]) -> Any:
                value = values.get(FULL_NAME)
                # normalize_name(value, NameStyle.FULL), inline.
                return (" ".join(value.split()) or None) if isinstance(value, str) else None

            return full_name
        if key == NAME:
            dict_of = names.Name.dict_of

            def split_name(values: MappingABC[str, Any]) -> Any:
                get = values.get
                return dict_of(get(NAME_PREFIX), get(FIRST_NAME), get(LAST_NAME), get(NAME_SUFFIX))

            return split_name
        normalize_field = self._normalizers[side]

        def field_value(values: MappingABC[str, Any]) -> Any:
            return normalize_field(values.get(key))

        return field_value

    def normalize(self, side: str, value: Any) -> Any:
        if self.key(side) == NAME:
            return normalize_name(value, self.style(side))
        return self._normalizers[side](value)

    def convert(
        self,
        source: str,
        value: Any,
        *,
        target_now: Any = None,
        snap_source: Any = None,
        snap_target: Any = None,
    ) -> Any:
        """``value`` (normalized, on ``source``) as the target side holds it, or UNCONVERTIBLE.

        ``target_now`` is the target's current value (a single value written into a list
        replaces its primary entry and keeps the rest); the snapshots let a name split keep the
        user's earlier split.
        """
        return self._converters[source](value, target_now, snap_source, snap_target)

    def _converter(self, source: str) -> Converter:
        """``convert`` out of ``source``, with what depends only on the mapping decided here."""
        target = other(source)
        src, tgt = self.spec(source), self.spec(target)
        style_source, style_target = self.style(source), self.style(target)
        if src.type == FieldType.NAME:
            fold = not self._honorifics[target]
            folded_dict = names.Name.folded_dict
            # ``_convert_name`` with its choice of way (the two styles) made here.
            if style_source == style_target:

                def same_style(
                    value: Any, target_now: Any, snap_source: Any, snap_target: Any
                ) -> Any:
                    if isinstance(value, dict) and fold:
                        return folded_dict(value)
                    return value

                return same_style
            # Split parts joined into one text, or one text split into parts.
            way = _join_name if style_source == NameStyle.SPLIT else _split_name

            def restyled(value: Any, target_now: Any, snap_source: Any, snap_target: Any) -> Any:
                converted = way(value, snap_source, snap_target)
                if isinstance(converted, dict) and fold:
                    return folded_dict(converted)
                return converted

            return restyled
        src_type, tgt_type = src.type, tgt.type
        many_source = src.multi or src_type == FieldType.TAGS
        many_target = tgt.multi or tgt_type == FieldType.TAGS
        value_map = self._map_from(source)
        scalar = scalar_converter(src_type, tgt_type, value_map)
        normalize_target: Callable[[Any], Any] = self._normalizers[target]
        if self.key(target) == NAME:
            normalize_target = functools.partial(normalize_name, style=style_target)

        def field_value(value: Any, target_now: Any, snap_source: Any, snap_target: Any) -> Any:
            if value is None or value == "" or value == [] or value == {}:  # is_empty, inline
                return None
            if many_source and isinstance(value, list):
                converted = [scalar(item) for item in value]
                converted = [item for item in converted if item is not UNCONVERTIBLE]
            else:
                one = scalar(value)
                converted = [] if one is UNCONVERTIBLE else [one]
            if not converted:
                return UNCONVERTIBLE
            if many_target:
                if many_source:
                    return normalize_target(converted)
                rest = [item for item in (target_now or []) if item != converted[0]]
                kept = rest[1:] if target_now and target_now[0] != converted[0] else rest
                return normalize_target([converted[0], *kept])
            return normalize_target(converted[0])

        return field_value

    def equivalent(self, value_a: Any, value_b: Any) -> bool:
        """Whether A's and B's values hold the same thing, given how values convert."""
        if value_a == value_b:
            return True
        if is_empty(value_a) or is_empty(value_b):
            return False
        values = {"a": value_a, "b": value_b}
        converters = self._converters
        for source, target in self._equivalence_order:
            converted = converters[source](values[source], values[target], None, None)
            if converted is not UNCONVERTIBLE and converted == values[target]:
                return True
        return False

    def converter(self, source: str) -> Converter:
        """``convert`` out of ``source`` as a function of (value, target_now, snap_source,
        snap_target), for callers that convert many records the same way."""
        return self._converters[source]

    def changer(self, side: str) -> Callable[[Any], dict[str, Any]]:
        """``changes`` on ``side`` as a function of the value."""
        return self._changers[side]

    def changes(self, side: str, value: Any) -> dict[str, Any]:
        """The record fields to write on ``side`` to hold the normalized ``value``."""
        return self._changers[side](value)

    def _changer(self, side: str) -> Callable[[Any], dict[str, Any]]:
        """``changes`` on ``side``, with what depends only on the mapping decided here."""
        key = self.key(side)
        spec = self.spec(side)
        if key == NAME:
            if self.style(side) == NameStyle.FULL:
                return lambda value: {FULL_NAME: value or ""}
            if not self._honorifics[side]:
                folded_dict = names.Name.folded_dict

                def folded(value: Any) -> dict[str, Any]:
                    parts = folded_dict(value)
                    return {FIRST_NAME: parts["first"], LAST_NAME: parts["last"]}

                return folded

            def split(value: Any) -> dict[str, Any]:
                name = names.Name.of(value)
                return {
                    NAME_PREFIX: name.prefix,
                    FIRST_NAME: name.first,
                    LAST_NAME: name.last,
                    NAME_SUFFIX: name.suffix,
                }

            return split
        many = spec.multi or spec.type == FieldType.TAGS
        empty = "" if spec.type in TEXT_LIKE else None

        def field_value(value: Any) -> dict[str, Any]:
            if value is None:
                # A fresh list each time: the caller may change what it is given.
                return {key: [] if many else empty}
            return {key: value}

        return field_value


TEXT_LIKE = frozenset(
    {FieldType.TEXT, FieldType.LONG_TEXT, FieldType.URL, FieldType.EMAIL, FieldType.PHONE}
)


def _convert_name(
    value: Any, source: NameStyle, target: NameStyle, snap_source: Any, snap_target: Any
) -> Any:
    if source == target:
        return value
    if source == NameStyle.SPLIT:
        return _join_name(value, snap_source, snap_target)
    return _split_name(value, snap_source, snap_target)


def _join_name(value: Any, snap_source: Any, snap_target: Any) -> Any:
    """A split name (``value``) as a full one."""
    if value and value == snap_source and isinstance(snap_target, str) and snap_target:
        # The parts as last synced: the full name as last synced, its exact spelling
        # ("Smith, Jr.") included, so a round trip changes nothing.
        return snap_target
    return names.Name.full_of(value) or None


def _split_name(value: Any, snap_source: Any, snap_target: Any) -> Any:
    """A full name (``value``) split into its parts."""
    if not value:
        return None
    split = names.split(
        value,
        previous_full=snap_source if isinstance(snap_source, str) else None,
        previous=names.Name.of(snap_target) if isinstance(snap_target, dict) else None,
    )
    return split.as_dict()


def convert_scalar(
    value: Any, source: FieldType, target: FieldType, value_map: MappingABC[str, str]
) -> Any:
    """One normalized value of type ``source`` as a value of type ``target``."""
    return scalar_converter(source, target, value_map)(value)


def _same(value: Any) -> Any:
    return value


def _unconvertible(value: Any) -> Any:
    return UNCONVERTIBLE


def _yes_no_text(value: Any) -> str:
    return "true" if value else "false"


def scalar_converter(
    source: FieldType, target: FieldType, value_map: MappingABC[str, str]
) -> Callable[[Any], Any]:
    """``convert_scalar`` for one pair of types and value map, with its choice of way made once
    (a mapping converts every value of every record it reads the same way)."""
    if source == FieldType.ENUM or target == FieldType.ENUM:
        if value_map:
            mapped = value_map.get

            def by_map(value: Any) -> Any:
                return mapped(str(value), UNCONVERTIBLE)

            return by_map
        return _same if target != FieldType.ENUM else _unconvertible
    if target in TEXT_TYPES:
        if source == FieldType.BOOLEAN:
            return _yes_no_text
        if source == FieldType.ADDRESS:
            return address_text
        return str
    if source == target:
        return _same
    converter = _CONVERTERS.get(target)
    if converter is None:
        return _same
    if target not in _STRICT:
        return converter

    def strict(value: Any) -> Any:
        converted = converter(value)
        return UNCONVERTIBLE if isinstance(converted, str) else converted

    return strict


_CONVERTERS: dict[FieldType, Callable[[Any], Any]] = {
    FieldType.NUMBER: _number,
    FieldType.BOOLEAN: _boolean,
    FieldType.DATE: _date,
    FieldType.DATETIME: _datetime,
    FieldType.EMAIL: _email,
    FieldType.PHONE: normalize_phone,
}
# Targets whose converter answers a string when the value does not parse.
_STRICT = frozenset({FieldType.NUMBER, FieldType.BOOLEAN})


# -- Default mappings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DefaultMapping:
    field_a: str
    field_b: str
    direction: str


def default_mappings(
    fields_a: Iterable[FieldSpec],
    fields_b: Iterable[FieldSpec],
    *,
    style_a: NameStyle,
    style_b: NameStyle,
) -> list[DefaultMapping]:
    """Every standard field both apps share (same ``canonical``), widest direction allowed.

    Names: when one app holds a full name and the other first + last, one composite mapping
    ``name`` ↔ ``name`` joins one way and splits the other. Tags are left to rules and actions
    (PieSync synced them as actions, never as a field mapping).
    """
    list_a, list_b = list(fields_a), list(fields_b)
    by_canonical_b: dict[str, FieldSpec] = {}
    for spec in list_b:
        if spec.canonical and not spec.custom:
            by_canonical_b.setdefault(spec.canonical, spec)
    found: list[DefaultMapping] = []
    for spec_a in list_a:
        if not spec_a.canonical or spec_a.custom or spec_a.type == FieldType.TAGS:
            continue
        if spec_a.canonical in NAME_CANONICALS and not _same_name_part(spec_a.canonical, style_a):
            continue
        if spec_a.canonical in NAME_CANONICALS and style_a != style_b:
            continue
        spec_b = by_canonical_b.get(spec_a.canonical)
        if spec_b is None:
            continue
        direction = widest_direction(spec_a, spec_b)
        if direction is not None:
            found.append(DefaultMapping(spec_a.key, spec_b.key, direction))
    if style_a != style_b and _has_name(list_a, style_a) and _has_name(list_b, style_b):
        direction = widest_direction(name_spec(list_a, style_a), name_spec(list_b, style_b))
        if direction is not None:
            found.insert(0, DefaultMapping(NAME, NAME, direction))
    return found


def _same_name_part(canonical: str, style: NameStyle) -> bool:
    """Whether a name field is the app's own way of holding names (not a derived extra)."""
    if style == NameStyle.FULL:
        return canonical == CANONICAL_FULL_NAME
    return canonical in (CANONICAL_FIRST_NAME, CANONICAL_LAST_NAME)


def _has_name(fields: list[FieldSpec], style: NameStyle) -> bool:
    wanted = FULL_NAME if style == NameStyle.FULL else FIRST_NAME
    return any(spec.key == wanted for spec in fields)


def fields_of_mapping_key(key: str, style: NameStyle) -> tuple[str, ...]:
    """The record fields a mapping key reads and writes (the composite name spans two)."""
    if key != NAME:
        return (key,)
    return (
        (FULL_NAME,)
        if style == NameStyle.FULL
        else (NAME_PREFIX, FIRST_NAME, LAST_NAME, NAME_SUFFIX)
    )
