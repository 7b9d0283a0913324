"""Hostile input from the apps: over-long fields, broken text, values of unexpected types and a
page far larger than asked for. Each gives a clear record issue or error, never a crashed run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations.connectors.google_contacts.client import PeopleClient
from integrations.models import Connection, RecordIssue, RecordLink, SyncRun
from tests.e2e.conftest import Pair, person

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

HOSTILE: dict[str, dict[str, Any]] = {
    "long name": person("L" * 20_000, "Long", "long@acme.example"),
    "long email": person("Eve", "Long", "e" * 400 + "@acme.example"),
    "number as email": {"names": [{"givenName": "Num"}], "emailAddresses": [{"value": 12345}]},
    "string as list": {"names": [{"givenName": "Str"}], "emailAddresses": "str@acme.example"},
    "null names": {"names": None, "emailAddresses": [{"value": "null@acme.example"}]},
    "lone surrogate": person("Sur\udc80", "Rogate", "surrogate@acme.example"),
    "nul byte": person("Nul\x00", "Byte", "nul@acme.example"),
    "nested junk": {"names": [{"givenName": {"x": [1, 2]}}], "emailAddresses": [{"value": []}]},
    "junk metadata": {
        **person("Meta", "Junk", "meta@acme.example"),
        "metadata": {"sources": ["x", None], "previousResourceNames": "people/c0"},
    },
    "metadata as text": {**person("Meta", "Text", "metatext@acme.example"), "metadata": "x"},
    "junk client data": {
        **person("Client", "Junk", "client@acme.example"),
        "clientData": [1, {"key": "tandemIntent", "value": {"x": 1}}],
    },
}


def test_it_never_crashes_a_run_on_hostile_contacts(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        pair.add_contact(person(f"Gee{n}", "Google", f"g{n}@acme.example"))
    original = PeopleClient.connections_page

    def huge_first_page(self: PeopleClient, **kwargs: Any) -> bytes:
        answer = json.loads(original(self, **kwargs))
        if not kwargs.get("page_token"):
            people = answer.get("connections") or []
            # As the app hands them over, past any validation of its own.
            hostile = [
                {"resourceName": f"people/hostile{i}", "etag": f"h{i}", **body}
                for i, body in enumerate(HOSTILE.values())
            ]
            filler = [
                {"resourceName": f"people/huge{i}", "etag": "x", "names": [{"givenName": "H"}]}
                for i in range(3000)
            ]
            answer = {**answer, "connections": people + hostile + filler}
        return json.dumps(answer).encode()

    monkeypatch.setattr(PeopleClient, "connections_page", huge_first_page)
    connection = pair.connect()
    run = pair.sync(connection)
    Connection.objects.filter(pk=connection.pk).update(lease_owner="", lease_expires_at=None)
    assert "internal error" not in run.error, run.error
    assert run.outcome in (SyncRun.Outcome.SUCCESS, SyncRun.Outcome.PARTIAL, SyncRun.Outcome.FAILED)
    if run.outcome == SyncRun.Outcome.FAILED:
        assert run.error  # a clear error, in words
    else:
        names = {c["name"] for c in pair.customers()}
        assert {f"Gee{n} Google" for n in range(3)} <= names
        # Metadata and client data not of the kinds the API documents are left out, the
        # person's values synced.
        assert {"Meta Junk", "Meta Text", "Client Junk"} <= names
    issues = list(
        RecordIssue.objects.filter(connection=connection).values_list("reason", flat=True)
    )
    assert all(reason.strip() for reason in issues)
    print(
        f"\nFIGURES hostile={len(HOSTILE)} outcome={run.outcome} issues={len(issues)} "
        f"links={RecordLink.objects.filter(connection=connection).count()} "
        f"error={run.error[:120]!r} reasons={sorted(set(issues))[:3]}"
    )
