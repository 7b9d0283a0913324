from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.google_contacts.connector import GoogleContactsConnector
from integrations.connectors.http import HttpClient
from integrations.sync.fields import FieldType
from integrations.sync.records import ContactUpdate, NewContact
from sandbox.google_contacts import GoogleContactsEmulator
from tests.integrations.connectors.google_contacts.conftest import EMAIL, person


def test_it_refreshes_the_access_token_shortly_before_it_expires(
    connector: GoogleContactsConnector,
    emulator: GoogleContactsEmulator,
    saved: list[dict[str, Any]],
) -> None:
    old = connector.credentials["access_token"]
    connector.credentials["expires_at"] = time.time() + 30

    connector.check()

    assert len(saved) == 1 and saved[0]["access_token"] != old
    assert saved[0]["expires_at"] > time.time() + 3000
    assert saved[0]["refresh_token"] == connector.credentials["refresh_token"]
    assert emulator.requests["unauthenticated"] == 0


def test_it_refreshes_once_after_a_401(
    connector: GoogleContactsConnector,
    emulator: GoogleContactsEmulator,
    saved: list[dict[str, Any]],
) -> None:
    emulator.expire_access_tokens(EMAIL)

    assert connector.check().label == EMAIL
    assert emulator.requests["unauthenticated"] == 1 and len(saved) == 1


def test_it_asks_for_reauthorization_when_the_grant_is_revoked(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    emulator.revoke(EMAIL)

    with pytest.raises(ConnectorError) as raised:
        connector.check()

    assert raised.value.reauthorize
    assert raised.value.message.startswith("Google Contacts:")
    assert connector.credentials["refresh_token"] not in raised.value.message


def test_it_lists_everything_then_only_changes(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator, monkeypatch: Any
) -> None:
    monkeypatch.setattr("integrations.connectors.google_contacts.connector.READ_PAGE_SIZE", 2)
    names = [emulator.add_contact(EMAIL, person(f"P{i}", "X", f"p{i}@x.example")) for i in range(3)]

    pages = list(connector.list_changed(None))

    assert [len(p.records) for p in pages] == [2, 1] and all(p.full_scan for p in pages)
    assert pages[0].checkpoint == {} and "sync_token" in pages[1].checkpoint
    emulator.edit_contact(EMAIL, names[1]["resourceName"], names=[{"givenName": "Pia"}])
    changed = list(connector.list_changed(pages[-1].checkpoint))
    assert [c.values["first_name"] for p in changed for c in p.records] == ["Pia"]
    assert not changed[0].full_scan


def test_it_rescans_everything_when_the_sync_token_expired(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    emulator.add_contact(EMAIL, person("Ann", "Lee", "ann@x.example"))
    checkpoint = list(connector.list_changed(None))[-1].checkpoint
    emulator.advance(8 * 24 * 3600)

    pages = list(connector.list_changed(checkpoint))

    assert pages[0].full_scan and [c.values["first_name"] for c in pages[0].records] == ["Ann"]
    assert emulator.requests["connections.list.expired"] == 1


def test_it_reports_deletions_and_previous_resource_names(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    gone = emulator.add_contact(EMAIL, person("Gone", "Soon", "gone@x.example"))
    moved = emulator.add_contact(EMAIL, person("Mo", "Ved", "mo@x.example"))
    checkpoint = list(connector.list_changed(None))[-1].checkpoint
    emulator.delete_contact(EMAIL, gone["resourceName"])
    new_name = emulator.change_resource_name(EMAIL, moved["resourceName"])

    records = {c.id: c for p in connector.list_changed(checkpoint) for c in p.records}

    assert records[gone["resourceName"]].deleted
    assert records[new_name].facts["previous_ids"] == [moved["resourceName"]]


def test_it_retries_a_rate_limited_listing(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    emulator.add_contact(EMAIL, person("Ann", "Lee", "ann@x.example"))
    emulator.fail_next(2, 429)

    pages = list(connector.list_changed(None))

    assert len(pages[0].records) == 1 and emulator.requests["fault"] == 2


def test_it_creates_a_batch_and_reads_the_intent_key_back(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    items = [
        NewContact(
            ref="a",
            values={"first_name": "Ada", "emails": ["ada@x.example"]},
            idempotency_key="k-a",
        ),
        NewContact(
            ref="b", values={"first_name": "Bo", "birthday": "1990-04-02"}, idempotency_key="k-b"
        ),
    ]

    results = connector.create_many(items)
    listed = [c for p in connector.list_changed(None) for c in p.records]

    assert [r.ok for r in results] == [True, True]
    assert emulator.requests["people.batchCreateContacts"] == 1
    assert {c.idempotency_key for c in listed} == {"k-a", "k-b"}
    assert results[1].record is not None and results[1].record.values["birthday"] == "1990-04-02"


def test_a_created_contact_carries_the_etag_update_time_and_emails_google_answered(
    connector: GoogleContactsConnector,
) -> None:
    item = NewContact(
        ref="a",
        values={"first_name": "Ada", "emails": ["Ada@X.example"], "company": "Initech"},
        idempotency_key="k-a",
    )

    [result] = connector.create_many([item])
    [listed] = [c for p in connector.list_changed(None) for c in p.records]

    created = result.record
    assert created is not None and created.id == listed.id
    assert (created.version, created.updated_at) == (listed.version, listed.updated_at)
    assert created.normalized_emails == ["ada@x.example"]
    assert created.values["company"] == "Initech" and created.idempotency_key == "k-a"


def test_it_refuses_one_bad_contact_and_creates_the_rest(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    items = [
        NewContact(ref="a", values={"first_name": "Ada"}),
        NewContact(ref="b", values={"first_name": "Bo", "birthday": "1990-13-40"}),
    ]

    results = connector.create_many(items)

    assert results[0].ok
    assert results[1].error.startswith("Google Contacts refused birthday:")
    assert results[1].permanent
    assert len(emulator.contacts(EMAIL)) == 1


def test_it_updates_a_batch_keeping_untouched_name_parts(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    a = emulator.add_contact(EMAIL, person("Ann", "Lee", "ann@x.example"))
    b = emulator.add_contact(EMAIL, person("Bob", "Ray", "bob@x.example"))

    results = connector.update_many(
        [
            ContactUpdate(id=a["resourceName"], changes={"first_name": "Anna"}, version=a["etag"]),
            ContactUpdate(id=b["resourceName"], changes={"first_name": "Rob"}, version=b["etag"]),
        ]
    )

    assert [r.ok for r in results] == [True, True]
    assert emulator.requests["people.batchUpdateContacts"] == 1
    stored = emulator.contact(EMAIL, a["resourceName"])
    assert stored["names"][0]["givenName"] == "Anna" and stored["names"][0]["familyName"] == "Lee"
    assert stored["etag"] != a["etag"]


def test_it_rereads_and_rewrites_a_contact_edited_meanwhile(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    a = emulator.add_contact(EMAIL, person("Ann", "Lee", "ann@x.example"))
    emulator.edit_contact(EMAIL, a["resourceName"], phoneNumbers=[{"value": "+31 20 555 0101"}])

    results = connector.update_many(
        [
            ContactUpdate(
                id=a["resourceName"], changes={"emails": ["ann@new.example"]}, version=a["etag"]
            )
        ]
    )

    assert results[0].ok
    stored = emulator.contact(EMAIL, a["resourceName"])
    assert [e["value"] for e in stored["emailAddresses"]] == ["ann@new.example"]
    assert [p["value"] for p in stored["phoneNumbers"]] == ["+31 20 555 0101"]
    assert emulator.requests["people.get"] == 1


def test_it_adds_and_removes_labels(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    a = emulator.add_contact(EMAIL, person("Ann", "Lee", "ann@x.example"))

    tagged = connector.tag([a["resourceName"]], "VIP")
    untagged = connector.untag([a["resourceName"]], "VIP")

    assert tagged[0].record is not None and tagged[0].record.tags == ["VIP"]
    assert untagged[0].record is not None and untagged[0].record.tags == []
    assert emulator.requests["contactGroups.create"] == 1


def test_it_offers_user_defined_keys_as_custom_fields(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    emulator.add_contact(
        EMAIL, person("Ann", "Lee", userDefined=[{"key": "loyaltyTier", "value": "gold"}])
    )

    fields = connector.field_map()
    contact = next(c for p in connector.list_changed(None) for c in p.records)

    assert fields["custom.loyaltyTier"].custom
    assert contact.values["custom.loyaltyTier"] == "gold"


def test_it_finds_contacts_by_email(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    a = emulator.add_contact(EMAIL, person("Ann", "Lee", "Ann@X.example"))
    emulator.add_contact(EMAIL, person("Bob", "Ray", "bob@x.example"))

    found = connector.find_by_emails(["ann@x.example", "nobody@x.example"])

    assert [c.id for c in found["ann@x.example"]] == [a["resourceName"]]
    assert "nobody@x.example" not in found


def test_it_asks_for_reauthorization_when_a_fresh_token_is_refused_too(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    emulator.expire_access_tokens(EMAIL)
    emulator.access_token_lifetime = 0

    with pytest.raises(ConnectorError) as raised:
        connector.check()

    assert raised.value.reauthorize and raised.value.status == 401
    assert emulator.requests["unauthenticated"] == 2 and emulator.requests["oauth.token"] == 1


def test_it_keeps_the_previous_sync_token_until_the_last_page(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator, monkeypatch: Any
) -> None:
    monkeypatch.setattr("integrations.connectors.google_contacts.connector.READ_PAGE_SIZE", 2)
    names = [emulator.add_contact(EMAIL, person(f"P{i}", "X")) for i in range(3)]
    start = list(connector.list_changed(None))[-1].checkpoint
    for created in names:
        emulator.edit_contact(EMAIL, created["resourceName"], names=[{"givenName": "Q"}])

    pages = list(connector.list_changed(start))

    assert [len(p.records) for p in pages] == [2, 1]
    assert pages[0].checkpoint == start
    assert pages[1].checkpoint["sync_token"] not in ("", start["sync_token"])


def test_it_treats_a_410_as_an_expired_sync_token(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    emulator.add_contact(EMAIL, person("Ann", "Lee", "ann@x.example"))
    checkpoint = list(connector.list_changed(None))[-1].checkpoint
    emulator.expired_sync_status = 410
    emulator.sync_token_ttl = 0

    pages = list(connector.list_changed(checkpoint))

    assert all(p.full_scan for p in pages) and len(pages[0].records) == 1


def test_it_honours_retry_after_on_a_429(emulator: GoogleContactsEmulator) -> None:
    waits: list[float] = []
    tokens = emulator.issue_tokens(EMAIL)
    connector = GoogleContactsConnector(
        {**tokens, "expires_at": 9_999_999_999},
        http=HttpClient(app="google_contacts", sleep=waits.append, max_wait=60),
    )
    emulator.retry_after = 7
    emulator.fail_next(1, 429)

    connector.check()

    (waited,) = waits
    assert 7.0 <= waited <= 7.7  # the announced wait, plus a little jitter


def test_it_gets_contacts_by_current_and_previous_names(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    a = emulator.add_contact(EMAIL, person("Ann", "Lee", "ann@x.example"))
    b = emulator.add_contact(EMAIL, person("Bob", "Ray", "bob@x.example"))
    moved = emulator.change_resource_name(EMAIL, b["resourceName"])

    found = connector.get_many([a["resourceName"], b["resourceName"], "people/c404"])

    assert sorted(c.id for c in found) == sorted([a["resourceName"], moved])
    assert emulator.requests["people.batchGet"] == 1


def test_it_looks_up_many_emails_from_one_listing(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    emulator.add_contact(EMAIL, person("Ann", "Lee", "ann@x.example"))
    emulator.add_contact(EMAIL, person("Bob", "Ray", "bob@x.example"))

    first = connector.find_by_emails(["ann@x.example"])
    second = connector.find_by_emails(["bob@x.example"])

    assert list(first) == ["ann@x.example"] and list(second) == ["bob@x.example"]
    assert emulator.requests["connections.list"] == 1


def test_it_finds_a_contact_it_created_before_listings_show_it(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    connector.find_by_emails(["cy@x.example"])
    emulator.propagation_delay = 300
    created = connector.create_many(
        [NewContact(ref="c", values={"emails": ["cy@x.example"]}, idempotency_key="k-c")]
    )

    found = connector.find_by_emails(["cy@x.example"])

    assert created[0].record is not None
    assert [c.idempotency_key for c in found["cy@x.example"]] == ["k-c"]


def test_it_blames_the_oauth_client_not_the_account_for_a_wrong_secret(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator, settings: Any
) -> None:
    settings.GOOGLE_OAUTH_CLIENT_SECRET = "not-the-secret"
    connector.credentials["expires_at"] = 0

    with pytest.raises(ConnectorError) as raised:
        connector.check()

    assert raised.value.permanent and not raised.value.reauthorize
    assert "invalid_client" in raised.value.message
    assert "not-the-secret" not in raised.value.message


def test_it_looks_up_the_newest_email_of_a_contact_it_wrote_earlier(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    a = emulator.add_contact(EMAIL, person("Ann", "Lee", "ann@x.example"))
    connector.update_many(
        [ContactUpdate(id=a["resourceName"], changes={"notes": "hi"}, version=a["etag"])]
    )
    emulator.advance(1)
    emulator.edit_contact(EMAIL, a["resourceName"], emailAddresses=[{"value": "ann@new.example"}])

    found = connector.find_by_emails(["ann@x.example", "ann@new.example"])

    assert list(found) == ["ann@new.example"]


def test_it_retries_a_read_that_timed_out(emulator: GoogleContactsEmulator) -> None:
    tokens = emulator.issue_tokens(EMAIL)
    connector = GoogleContactsConnector(
        {**tokens, "expires_at": 9_999_999_999},
        http=HttpClient(app="google_contacts", sleep=lambda _: None, timeout=(2.0, 0.3)),
    )
    emulator.fail_next(1, sleep=1.0)

    assert connector.check().label == EMAIL
    assert connector.http.calls["people.get.me"] == 2


def test_it_keeps_tokens_and_the_client_secret_out_of_logs(
    connector: GoogleContactsConnector,
    emulator: GoogleContactsEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.expire_access_tokens(EMAIL)
    emulator.fail_next(1, 429)

    connector.check()

    secrets = [
        connector.credentials["access_token"],
        connector.credentials["refresh_token"],
        "tandem-test-secret",
    ]
    assert "429" in caplog.text
    assert not [s for s in secrets if s in caplog.text]


def test_it_discovers_custom_fields_on_the_most_recently_changed_contacts(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator, monkeypatch: Any
) -> None:
    module = "integrations.connectors.google_contacts.connector"
    monkeypatch.setattr(f"{module}.LOOKUP_PAGE_SIZE", 2)
    monkeypatch.setattr(f"{module}.FIELD_DISCOVERY_PAGES", 1)
    emulator.add_contact(EMAIL, person("Old", "X", userDefined=[{"key": "legacy", "value": "1"}]))
    others = [emulator.add_contact(EMAIL, person(f"P{i}", "X")) for i in range(3)]
    emulator.edit_contact(
        EMAIL, others[0]["resourceName"], userDefined=[{"key": "region", "value": "EMEA"}]
    )

    custom = [f.key for f in connector.fields() if f.custom]

    assert custom == ["custom.region"]


def test_it_learns_custom_fields_from_a_full_listing_without_another_call(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    emulator.add_contact(EMAIL, person("Old", "X", userDefined=[{"key": "legacy", "value": "1"}]))
    emulator.add_contact(EMAIL, person("New", "Y", userDefined=[{"key": "region", "value": "EU"}]))
    for _ in connector.list_changed(None):
        pass
    listed = connector.http.calls["connections.list"]

    custom = [f.key for f in connector.fields() if f.custom]

    assert (custom, connector.http.calls["connections.list"]) == (
        ["custom.legacy", "custom.region"],
        listed,
    )


def test_it_lists_a_thousand_contacts_in_one_page(
    connector: GoogleContactsConnector, emulator: GoogleContactsEmulator
) -> None:
    for i in range(1000):
        emulator.add_contact(EMAIL, person(f"P{i}", "X"))

    pages = list(connector.list_changed(None))

    assert (len(pages), len(pages[0].records)) == (1, 1000)


def test_it_gives_a_run_any_custom_key_it_uses_without_a_call(
    connector: GoogleContactsConnector,
) -> None:
    fields = connector.fields_for_sync({"custom.rareKey", "emails"})

    assert fields["custom.rareKey"].type == FieldType.TEXT
    assert "emails" in fields and connector.http.total_calls == 0
