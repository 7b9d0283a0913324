"""JSON in and out of a run (``integrations/jsoncodec.py``): the standard library's answers,
by msgspec where it can give them."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from integrations import jsoncodec

DOCUMENTS = [
    b'{"a": [1, 2.5, -0.0, 1e300, true, false, null], "b": {"c": "d"}}',
    b'  [ "\\u00e9\\ud83d\\ude00", "\\u2028", "caf\xc3\xa9" ] \n',
    b"123456789012345678901234567890",
    b'{"dup": 1, "dup": 2}',
    b'""',
]
# What msgspec refuses and json.loads reads: JSON's NaN and Infinity extensions, a number
# beyond a float, UTF-16 text.
EXTENSIONS = [b'{"a": NaN}', b"[Infinity, -Infinity]", b"1e400", '{"a": "é"}'.encode("utf-16")]
NOT_JSON = [b"", b"[1,", b"<html>busy</html>", b"\xff\xfe\xfd", b'{"a": 1} extra']


@pytest.mark.parametrize("document", DOCUMENTS)
def test_it_decodes_a_document_as_json_loads_does(document: bytes) -> None:
    assert jsoncodec.decode(document) == json.loads(document)
    assert jsoncodec.decode(document.decode()) == json.loads(document)
    assert jsoncodec.decode(memoryview(document)) == json.loads(document)


@pytest.mark.parametrize("document", EXTENSIONS)
def test_it_decodes_what_only_json_loads_reads_as_json_loads_does(document: bytes) -> None:
    got, expected = jsoncodec.decode(document), json.loads(document)
    assert json.dumps(got) == json.dumps(expected)  # nan != nan: compared as text


@pytest.mark.parametrize("document", NOT_JSON)
def test_it_refuses_what_is_not_json_with_a_value_error(document: bytes) -> None:
    with pytest.raises(ValueError):
        jsoncodec.decode(document)


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_what_it_encodes_reads_back_as_json_dumps_text_does(value: Any) -> None:
    expected = json.loads(json.dumps(value))
    assert jsoncodec.decode(jsoncodec.encode(value)) == expected
    assert json.loads(jsoncodec.encode_text(value)) == expected


class Word(str):
    """A str subclass, which msgspec does not encode."""


def test_it_encodes_what_only_json_dumps_writes_as_json_dumps_does() -> None:
    value = {True: 1, None: [Word("w")], 2.5: "x"}
    assert json.loads(jsoncodec.encode(value)) == json.loads(json.dumps(value))
    assert jsoncodec.decode(jsoncodec.encode(value)) == {"true": 1, "null": ["w"], "2.5": "x"}


def test_it_writes_no_nan_or_infinity_which_json_has_not() -> None:
    assert jsoncodec.decode(jsoncodec.encode([math.nan, math.inf, 1.0])) == [None, None, 1.0]


def test_it_refuses_to_encode_what_json_cannot_hold_with_a_type_error() -> None:
    with pytest.raises(TypeError):
        jsoncodec.encode({"a": object()})
