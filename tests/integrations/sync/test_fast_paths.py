"""The engine's fast paths give the answers of the slow ones they stand for: the merge skipping
the fields changed on neither side, each field's normalizer made once, names read, folded and
joined without building a ``Name``, the cached name split and phone parsing, and ``storable``
keeping plain text without a call."""

from __future__ import annotations

import random
from typing import Any

import phonenumbers
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType, phonenumberutil

from integrations.sync import mapping as mapping_mod
from integrations.sync import names
from integrations.sync import values as values_mod
from integrations.sync.fields import FieldSpec, FieldType, NameStyle
from integrations.sync.mapping import Mapping
from integrations.sync.merge import MISSING, MergeResult, merge, merge_field
from integrations.sync.names import Name
from integrations.sync.records import NAME, storable
from integrations.sync.sides import other
from integrations.sync.values import (
    _PLAIN_PHONE,
    _SEPARATORS,
    SCALAR_NORMALIZERS,
    _parse_phone,
    _plain_phone,
    clear_phone_cache,
    is_empty,
    normalize,
    normalize_phone,
)
from sandbox.demo_people import demo_people

FULL = [
    FieldSpec("emails", "Emails", FieldType.EMAIL, multi=True, canonical="email"),
    FieldSpec("phones", "Phones", FieldType.PHONE, multi=True, canonical="phone"),
    FieldSpec("full_name", "Name", FieldType.TEXT, canonical="name.full"),
    FieldSpec("company", "Company", FieldType.TEXT, canonical="company"),
]
SPLIT = [
    FieldSpec("emails", "Emails", FieldType.EMAIL, multi=True, canonical="email"),
    FieldSpec("phones", "Phones", FieldType.PHONE, multi=True, canonical="phone"),
    FieldSpec("first_name", "First name", FieldType.TEXT, canonical="name.first"),
    FieldSpec("last_name", "Last name", FieldType.TEXT, canonical="name.last"),
    FieldSpec("company", "Company", FieldType.TEXT, canonical="company"),
]


def _mappings() -> list[Mapping]:
    fields_a = {spec.key: spec for spec in FULL}
    fields_b = {spec.key: spec for spec in SPLIT}
    found = []
    for default in mapping_mod.default_mappings(
        FULL, SPLIT, style_a=NameStyle.FULL, style_b=NameStyle.SPLIT
    ):
        spec_a = mapping_mod.spec_for(default.field_a, fields_a, NameStyle.FULL)
        spec_b = mapping_mod.spec_for(default.field_b, fields_b, NameStyle.SPLIT)
        assert spec_a is not None and spec_b is not None
        found.append(
            Mapping(
                field_a=default.field_a,
                field_b=default.field_b,
                spec_a=spec_a,
                spec_b=spec_b,
                style_a=NameStyle.FULL,
                style_b=NameStyle.SPLIT,
                direction=default.direction,
            )
        )
    return found


MAPPINGS = _mappings()


def _merge_every_field(
    mappings: list[Mapping],
    values_a: dict[str, Any],
    values_b: dict[str, Any],
    snapshot: dict[str, Any],
    *,
    winner: str,
    may_flow: dict[str, bool],
) -> MergeResult:
    """The merge as it was before its fast path: every field decided by ``merge_field``."""
    result = MergeResult()
    old = {side: dict(snapshot.get(side) or {}) for side in ("a", "b")}
    result.snapshot = {side: dict(old[side]) for side in ("a", "b")}
    for m in mappings:
        now = {"a": m.read("a", values_a), "b": m.read("b", values_b)}
        snap = {side: old[side].get(m.key(side), MISSING) for side in ("a", "b")}
        outcome = merge_field(
            m,
            now_a=now["a"],
            now_b=now["b"],
            snap_a=snap["a"],
            snap_b=snap["b"],
            winner=winner,
            may_flow=may_flow,
        )
        if outcome.conflict:
            result.conflicts.append(m.key("a"))
        if outcome.settled:
            for side in ("a", "b"):
                result.snapshot[side][m.key(side)] = now[side]
            continue
        if outcome.source is None:
            continue
        source, target = outcome.source, other(outcome.source)
        result.changes[target].update(m.changes(target, outcome.value))
        result.diffs[target][m.key(target)] = {"before": now[target], "after": outcome.value}
        result.snapshot[source][m.key(source)] = now[source]
        result.snapshot[target][m.key(target)] = outcome.value
    return result


def _demo_pairs(count: int) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """Demo people on both sides with snapshots as a run finds them: in sync, edited on one
    side or both, a fresh link without a snapshot, a snapshot missing a field, a name split
    differently, and values equivalent to the snapshot but spelled otherwise."""
    rng = random.Random(5)
    pairs = []
    for person in demo_people(count, seed=8):
        a = {
            "emails": list(person.emails),
            "phones": list(person.phones),
            "full_name": f"{person.first_name} {person.last_name}",
            "company": person.company,
        }
        b = {
            "emails": list(person.emails),
            "phones": list(person.phones),
            "first_name": person.first_name,
            "last_name": person.last_name,
            "company": person.company,
        }
        snapshot: dict[str, Any] = {
            side: {m.key(side): m.read(side, values) for m in MAPPINGS}
            for side, values in (("a", a), ("b", b))
        }
        roll = rng.randrange(9)
        if roll == 0:
            a["company"] = "Renamed Ltd"
        elif roll == 1:
            a["company"], b["company"] = "Renamed Ltd", "Other Name BV"
        elif roll == 2:
            snapshot = {}
        elif roll == 3:
            del snapshot["b"]["phones"]
        elif roll == 4:
            b["phones"] = [*b["phones"], "+32 470 12 34 56"]
        elif roll == 5:
            a["emails"] = [email.upper() for email in a["emails"]]
            snapshot["a"]["emails"] = [email.upper() for email in snapshot["a"]["emails"]]
        elif roll == 6:
            b["first_name"], b["last_name"] = "", ""
        elif roll == 7:
            snapshot["a"][NAME] = "Someone Else"
        pairs.append((a, b, snapshot))
    return pairs


def test_the_merge_plans_what_deciding_every_field_plans_over_demo_pairs() -> None:
    for a, b, snapshot in _demo_pairs(600):
        for winner in ("a", "b"):
            for may_flow in ({"a": True, "b": True}, {"a": True, "b": False}):
                fast = merge(MAPPINGS, a, b, snapshot, winner=winner, may_flow=may_flow)
                slow = _merge_every_field(
                    MAPPINGS, a, b, snapshot, winner=winner, may_flow=may_flow
                )
                assert fast == slow, (a, b, snapshot)


TEXTS = st.sampled_from([None, "", "Acme", " Acme ", "acme", "Globex"])
COMPANY = Mapping(
    field_a="company",
    field_b="org",
    spec_a=FieldSpec("company", "Company", FieldType.TEXT),
    spec_b=FieldSpec("org", "Organization", FieldType.TEXT),
    style_a=NameStyle.FULL,
    style_b=NameStyle.SPLIT,
)


@given(
    now_a=TEXTS,
    now_b=TEXTS,
    snap_a=st.one_of(st.just(MISSING), TEXTS),
    snap_b=st.one_of(st.just(MISSING), TEXTS),
    winner=st.sampled_from(["a", "b"]),
    flows_b=st.booleans(),
)
def test_the_merge_plans_what_deciding_every_field_plans_for_any_text(
    now_a: Any, now_b: Any, snap_a: Any, snap_b: Any, winner: str, flows_b: bool
) -> None:
    snapshot = {
        "a": {} if snap_a is MISSING else {"company": snap_a},
        "b": {} if snap_b is MISSING else {"org": snap_b},
    }
    arguments: dict[str, Any] = {"winner": winner, "may_flow": {"a": True, "b": flows_b}}
    values_a, values_b = {"company": now_a}, {"org": now_b}
    assert merge([COMPANY], values_a, values_b, snapshot, **arguments) == _merge_every_field(
        [COMPANY], values_a, values_b, snapshot, **arguments
    )


def _normalize_generic(value: Any, spec: FieldSpec) -> Any:
    """``normalize`` as it was before each field's normalizer was made once."""
    scalar = SCALAR_NORMALIZERS[spec.type]
    if spec.multi or spec.type == FieldType.TAGS:
        items = value if isinstance(value, list | tuple) else [value]
        seen: dict[Any, Any] = {}
        for item in items:
            if is_empty(item):
                continue
            normalized = scalar(item)
            if normalized is not None:
                key = (
                    tuple(sorted(normalized.items()))
                    if isinstance(normalized, dict)
                    else normalized
                )
                seen.setdefault(key, normalized)
        values = list(seen.values())
        if spec.type == FieldType.TAGS:
            values.sort()
        return values or None
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return None if is_empty(value) else scalar(value)


class _Text(str):
    """A ``str`` of another class (the fast paths take plain ``str`` alone)."""


STRINGS = st.one_of(
    st.sampled_from(["", " ", "x", " Mixed Case@Example.COM ", "+32 470 12 34 56", "0470123456"]),
    st.sampled_from(["\u00a0x\u2003", "STRASSE@X.DE", "Stra\u00dfe@x.de", " +1 (415) 555-0100 "]),
    st.sampled_from(["+32 470 12 34 56 ", "+32470123456", "+44 020 7946 0018", "x"]).map(_Text),
    st.text(max_size=8),
)
SCALARS = st.one_of(
    st.none(),
    STRINGS,
    st.sampled_from(["2024-02-29", "2024-02-29T10:00:00Z", "yes", "off", "1,234.5", "12"]),
    st.text(max_size=8),
    st.integers(-5, 5),
    st.booleans(),
    st.fixed_dictionaries({"street": st.sampled_from(["", "Main St 1", " Main  St 1 "])}),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.lists(STRINGS, max_size=4),
    st.tuples(SCALARS, SCALARS),
)


@given(
    value=VALUES,
    kind=st.sampled_from(list(FieldType)),
    multi=st.booleans(),
)
def test_a_fields_normalizer_answers_what_normalizing_by_its_type_did(
    value: Any, kind: FieldType, multi: bool
) -> None:
    spec = FieldSpec("field", "Field", kind, multi=multi)
    assert normalize(value, spec) == _normalize_generic(value, spec)


def test_a_string_fields_normalizer_answers_what_its_type_did_for_demo_values() -> None:
    odd = ["", " ", "  Acme  ", "ACME", "Stra\u00dfe", "\u00a0\u2003", "a\u00a0b", _Text(" x ")]
    texts = [*odd, *ODD_PHONES]
    for person in demo_people(300, seed=9):
        texts += [*person.emails, *person.phones, person.first_name, person.company]
        texts += [email.upper() for email in person.emails]
    values: list[Any] = [*texts, [], [""], texts[:3], texts[-6:], texts, tuple(texts[:4])]
    values += [[text, text.upper(), f" {text} "] for text in texts[::7]]
    values += [["+32 470 12 34 56", None], ["x", 3], [_Text("a"), "a"]]
    kinds = [FieldType.TEXT, FieldType.LONG_TEXT, FieldType.URL, FieldType.ENUM, FieldType.TAGS]
    for kind in [*kinds, FieldType.EMAIL, FieldType.PHONE]:
        for multi in (False, True):
            spec = FieldSpec("field", "Field", kind, multi=multi)
            for value in values:
                clear_phone_cache()
                assert normalize(value, spec) == _normalize_generic(value, spec), (kind, value)
                # And again with the phones it parsed in the cache.
                assert normalize(value, spec) == _normalize_generic(value, spec), (kind, value)


PARTS = st.one_of(
    st.none(), st.sampled_from(["", " ", "Dr.", "Mary  Ann", " van der Berg ", "Jr."]), st.text()
)
HONORIFIC_KEYS = ("prefix", "first", "last", "suffix")


@given(prefix=PARTS, first=PARTS, last=PARTS, suffix=PARTS)
def test_a_split_name_read_without_a_name_is_the_names_dict(
    prefix: Any, first: Any, last: Any, suffix: Any
) -> None:
    name = Name.of({"prefix": prefix, "first": first, "last": last, "suffix": suffix})
    expected = name.as_dict() if name else None
    assert Name.dict_of(prefix, first, last, suffix) == expected


@given(parts=st.fixed_dictionaries({}, optional=dict.fromkeys(HONORIFIC_KEYS, PARTS)))
def test_a_folded_name_made_without_a_name_is_the_names(parts: dict[str, Any]) -> None:
    assert Name.folded_dict(parts) == Name.of(parts).folded().as_dict()


@given(parts=st.fixed_dictionaries({}, optional=dict.fromkeys(HONORIFIC_KEYS, PARTS)))
def test_a_full_name_joined_without_a_name_is_the_names(parts: dict[str, Any]) -> None:
    assert Name.full_of(parts) == Name.of(parts).full


def test_a_cached_name_split_is_the_one_nameparser_makes_for_demo_names() -> None:
    for person in demo_people(1_000, seed=4):
        full = f"Dr. {person.first_name} {person.last_name} Jr."
        for text in (person.full_name, full, full):
            assert names.parse(text) == names._parse.__wrapped__(names.clean(text))


def _storable_per_value(value: Any) -> Any:
    """``storable`` as it was before plain ASCII text was kept without a call."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
        return value
    if isinstance(value, dict):
        return {_storable_per_value(k): _storable_per_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_per_value(v) for v in value]
    return value


STORED_TEXT = st.one_of(st.text(max_size=6), st.sampled_from(["a\x00b", "\ud800x", "é\x00"]))
STORED = st.recursive(
    st.one_of(st.none(), st.integers(), STORED_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.dictionaries(STORED_TEXT, inner, max_size=3),
    ),
    max_leaves=12,
)


@given(value=STORED)
def test_storable_answers_what_cleaning_each_value_answers(value: Any) -> None:
    assert storable(value) == _storable_per_value(value)


def test_a_mapping_remade_from_its_fields_decides_its_flows_again() -> None:
    one_way = Mapping(**{**COMPANY.__dict__, "direction": "b_to_a"})
    assert (one_way.flows("a"), one_way.flows("b"), COMPANY.flows("a")) == (False, True, True)


def _example_phones() -> list[str]:
    """Every region's example numbers of every type, as people type them and in E.164."""
    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in vars(PhoneNumberType).values():
            number = isinstance(kind, int) and phonenumbers.example_number_for_type(region, kind)
            if number:
                for style in (PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.E164):
                    found.append(phonenumbers.format_number(number, style))
    return found


def test_the_phone_cache_keeps_at_most_16_384_texts() -> None:
    # Nearly every hit comes from the group a record is in; more kept was memory at the peak.
    clear_phone_cache()
    phones = [f"+1 202 555 {n:04d}" for n in range(10_000)]
    phones += [f"+44 20 7946 {n:04d}" for n in range(10_000)]
    for phone in phones:
        assert normalize_phone(phone) == _parse_phone(phone)[0]
        assert len(values_mod._PHONES) <= 16_384
    assert normalize_phone(phones[-1]) == "+442079469999"
    clear_phone_cache()


def test_a_phones_e164_form_normalizes_to_itself_for_every_regions_examples() -> None:
    for phone in _example_phones():
        normalized, e164 = _parse_phone(phone)
        if e164:
            assert _parse_phone(str(normalized)) == (normalized, True), phone


def test_the_cached_phone_normalization_answers_what_parsing_answers() -> None:
    clear_phone_cache()
    phones = [phone for person in demo_people(2_000, seed=3) for phone in person.phones]
    odd = ["", "12", "+", "+44 020 7946 0018", "+1 (800) FLOWERS", "0470 12 34 56", "+32  2"]
    for phone in [*phones, *odd] * 2:
        normalized = normalize_phone(phone)
        assert normalized == _parse_phone(phone.strip())[0]
        if normalized is not None:
            assert normalize_phone(normalized) == _parse_phone(normalized)[0]


def _parse_phone_by_library(text: str) -> tuple[str | None, bool]:
    """``_parse_phone`` as it was before plain international numbers skipped ``parse``."""
    if not text:
        return None, False
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return " ".join(text.split()), False
    if not phonenumbers.is_possible_number(parsed):
        return " ".join(text.split()), False
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164), True


def _written_otherwise(phone: str) -> list[str]:
    """``phone`` as apps and people also write it: hyphens or dots for spaces, a national
    prefix kept after the country code (with and without parentheses), no separators."""
    country, _, rest = phone.partition(" ")
    return [
        phone,
        phone.replace(" ", "-"),
        phone.replace(" ", "."),
        phone.replace(" ", ""),
        f"{country} ({rest[:3]}) {rest[3:]}",
        f"{country} 0{rest}",
        f"{country} (0){rest}",
        f"{country} 00 {rest}",
        f"{country}  {rest} ",
        f"{phone} ext. 12",
        f"{phone} x12",
        f"{phone} #",
        f"{phone}#",
    ]


def _random_plain_phones(count: int) -> list[str]:
    """Texts of the plain form (``+``, digits, separators) of every length up to past the
    longest number: known country codes or none, national prefixes, runs of zeros."""
    rng = random.Random(15)
    codes = [str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE]
    found = []
    for _ in range(count):
        head = rng.choice([*codes, "", "0", "999", "80"])
        body = "".join(rng.choice("0123456789") for _ in range(rng.randrange(0, 19)))
        if rng.random() < 0.3:
            body = rng.choice(["0", "00", "1", "15", "9", "06"]) + body
        digits = head + body
        text = "+"
        for index, digit in enumerate(digits):
            if index and rng.random() < 0.3:
                text += rng.choice([" ", "-", ".", "(", ")", "  ", " (", ") "])
            text += digit
        found.append(text)
    return found


ODD_PHONES = [
    "", " ", "+", "++32 470 12 34 56", "+ 32 470 12 34 56", "+32 470 12 34 56 ", "+1", "+12",
    "+123", "+1 2", "+0 12 34 56", "+00 32 470 12 34 56", "+999 123 4567", "+800 1234 5678",
    "+979 1234 5678", "+882 1234 5678", "+1" + "2" * 300, "+1 " + "2" * 20, "+39 000 0000",
    "+39 0", "+61 (02) 9876 5432", "+1 (800) FLOWERS", "+1-800-356-9377 ext 1", "+32 2.",
    "tel:+32-2-555-12-12", "tel:+32-2-555-12-12;isub=12", "+32 2 555 12 12/x12", "Tel: +32 2",
    "+\u0663\u0662 \u0664\u0667\u0660 12 34 56", "+\uff13\uff12 470 12 34 56",
    "\uff0b32 470 12 34 56", "+32\u00a0470 12 34 56",
    "+32 470 12 34 56;ext=9", "+32 470 12 34 56,,9", "+32 470 \u2013 12 34 56", "0470 12 34 56",
    "+44 (0) 20 7946 0018", "+54 9 11 1234 5678", "+54 11 15 1234 5678", "+52 1 55 1234 5678",
]  # fmt: skip


def _phone_texts() -> list[str]:
    examples = _example_phones()
    demo = [phone for person in demo_people(500, seed=6) for phone in person.phones]
    written = [text for phone in [*examples[::3], *demo[::5]] for text in _written_otherwise(phone)]
    return [*examples, *demo, *written, *_random_plain_phones(20_000), *ODD_PHONES]


def test_a_plain_phone_parses_as_phonenumbers_parses_it() -> None:
    taken = 0
    for text in _phone_texts():
        if not _PLAIN_PHONE.fullmatch(text):
            continue
        # What the fast path takes for granted about such a text, asked of the library.
        digits = text[1:].translate(_SEPARATORS)
        assert phonenumberutil._build_national_number_for_parsing(text) == text, text
        assert phonenumberutil._maybe_strip_extension(text) == ("", text), text
        assert phonenumberutil._is_viable_phone_number(text) == (len(digits) >= 3), text
        plain = _plain_phone(text)
        if plain is None:
            continue
        taken += 1
        country_code, national, metadata = plain
        # parse raising here would fail the test too.
        parsed = phonenumbers.parse(text, None)
        number = phonenumbers.PhoneNumber(country_code=country_code)
        phonenumberutil._set_italian_leading_zeros_for_phone_number(national, number)
        number.national_number = int(national)
        assert number == parsed, text
        assert national == phonenumberutil.national_significant_number(parsed), text
        region = phonenumbers.region_code_for_country_code(country_code)
        expected = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(
            country_code, region
        )
        assert metadata is expected, text
    # The fast path is taken, not just declined: most of the sample is plain numbers.
    assert taken > 20_000


def test_a_phone_normalizes_as_parsing_it_with_the_library_does() -> None:
    for text in _phone_texts():
        assert _parse_phone(text) == _parse_phone_by_library(text), text


@given(text=st.from_regex(_PLAIN_PHONE, fullmatch=True) | st.text(alphabet="+0123456789 -().x#"))
def test_any_plain_phone_normalizes_as_parsing_it_with_the_library_does(text: str) -> None:
    text = text.strip()
    assert _parse_phone(text) == _parse_phone_by_library(text)
