"""JSON in and out of a run: the apps' answers decoded, the request bodies and the store's JSON
columns encoded, by msgspec, which does both in about half (decoding) and a tenth (encoding)
of the standard library's time. A run reads and writes every record as JSON at least once:
at 10,000 records a side that was about 8 % of a scan's CPU, and a third of the reading
thread's in the first run after a 100,000 scan.

Decoding gives the standard library's answer for every input: what msgspec refuses (JSON's
``NaN`` and ``Infinity`` extensions, a number beyond a float, text in UTF-16 or UTF-32) is
decoded by ``json.loads``, which raises ``ValueError`` for what is not JSON. Encoding writes
what ``json.dumps`` writes, in another form (no spaces after separators, UTF-8 where it
writes ``\\u`` escapes), which reads back as the same values; what msgspec cannot encode (a
``str`` or ``int`` subclass, a key of ``True`` or ``None``) is encoded by ``json.dumps``,
which raises ``TypeError`` for what JSON cannot hold. Where ``json.dumps`` would write
``NaN`` or ``Infinity``, which JSON has not and PostgreSQL refuses, msgspec writes ``null``;
where it would refuse a date-time, a decimal or a UUID, msgspec writes its text, and a set
as an array (the values a run keeps and sends come from the apps' JSON).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def decode(data: bytes | bytearray | memoryview | str) -> Any:
    """The value of the JSON document ``data`` (``ValueError`` when it is not one)."""
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError:
        return json.loads(bytes(data) if isinstance(data, memoryview) else data)


def encode(value: Any) -> bytes:
    """``value`` as a JSON document in UTF-8 (``TypeError`` for what JSON cannot hold)."""
    try:
        return _encoder.encode(value)
    except TypeError:
        return json.dumps(value).encode()


def encode_text(value: Any) -> str:
    """``encode`` as text, for a database's JSON column."""
    return encode(value).decode()
