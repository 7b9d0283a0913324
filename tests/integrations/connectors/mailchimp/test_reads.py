"""Reading an audience over HTTP from the emulator: the key, the audience choice, typed merge
fields, statuses on the record, and ``since_last_changed`` reads that lose nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.mailchimp.connector import MailchimpConnector
from integrations.sync.fields import FieldType
from integrations.sync.records import Checkpoint, Contact, checkpoint_problem
from sandbox.mailchimp import MailchimpEmulator
from tests.integrations.connectors.mailchimp.conftest import LIST_ID, OTHER_LIST_ID, add

Make = Callable[..., MailchimpConnector]


def read(
    connector: MailchimpConnector, checkpoint: Checkpoint | None
) -> tuple[list[Contact], Checkpoint]:
    records: list[Contact] = []
    last: Checkpoint = checkpoint or {}
    for page in connector.list_changed(checkpoint):
        records.extend(page.records)
        last = page.checkpoint
        assert checkpoint_problem(last) == ""
    return records, last


def test_check_verifies_the_key_and_names_the_audience(connector: MailchimpConnector) -> None:
    info = connector.check()
    assert info.label == "Newsletter (us6)"
    assert info.details["list_id"] == LIST_ID


def test_a_key_mailchimp_refuses_is_a_reauthorize_error(make_connector: Make) -> None:
    connector = make_connector(api_key="ab" * 16 + "-us6")
    with pytest.raises(ConnectorError) as caught:
        connector.check()
    assert caught.value.reauthorize
    assert "ab" * 16 not in caught.value.message


def test_a_key_without_its_data_center_is_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="data center"):
        MailchimpConnector.validate_credentials({"api_key": "0123456789abcdef"})


def test_the_audience_choice_offers_the_accounts_audiences(connector: MailchimpConnector) -> None:
    assert connector.connection_choice_options("list_id") == [
        (LIST_ID, "Newsletter"),
        (OTHER_LIST_ID, "Other"),
    ]
    (choice,) = connector.capabilities.connection_choices
    assert choice.key == "list_id"


def test_without_a_choice_an_account_of_two_audiences_cannot_sync(make_connector: Make) -> None:
    connector = make_connector(list_id="")
    with pytest.raises(ConnectorError, match="2 audiences") as caught:
        connector.fields()
    assert caught.value.permanent


@pytest.mark.parametrize("list_id", ["", "nope000000"])
def test_check_names_the_audiences_to_choose_from_when_none_fits(
    make_connector: Make, list_id: str
) -> None:
    with pytest.raises(ConnectorError) as caught:
        make_connector(list_id=list_id).check()
    assert caught.value.permanent
    assert f"Newsletter ({LIST_ID}); Other ({OTHER_LIST_ID})" in caught.value.message


def test_an_account_of_one_audience_needs_no_choice(
    make_connector: Make, emulator: MailchimpEmulator
) -> None:
    account, key = emulator.create_account("us6", name="Solo", login_email="solo@x.example")
    emulator.create_audience(account.user_id, "Only one", list_id="solo000001")
    connector = make_connector(api_key=key, list_id="")
    assert connector.check().details["list_id"] == "solo000001"
    assert connector.list_id == "solo000001"


def test_merge_fields_are_typed_from_the_merge_fields_api(connector: MailchimpConnector) -> None:
    fields = connector.field_map()
    assert fields["first_name"].type == FieldType.TEXT
    assert fields["address"].type == FieldType.ADDRESS
    assert (fields["custom.TIER"].type, fields["custom.TIER"].choices) == (
        FieldType.ENUM,
        ("bronze", "silver", "gold"),
    )
    assert fields["custom.SPEND"].type == FieldType.NUMBER
    assert fields["custom.JOINED"].type == FieldType.DATE
    assert fields["custom.TIER"].custom and not fields["first_name"].custom


def test_unsubscribed_and_cleaned_members_are_unsubscribed_records_and_archived_ones_deleted(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    for email in ("a@x.example", "b@x.example", "c@x.example", "d@x.example"):
        add(emulator, email, merge_fields={"FNAME": email[0].upper(), "SPEND": 5})
    emulator.unsubscribe(LIST_ID, "b@x.example")
    emulator.unsubscribe(LIST_ID, "c@x.example", cleaned=True)
    emulator.archive(LIST_ID, "d@x.example")
    records, _ = read(connector, None)
    state = {r.values["email"]: (r.unsubscribed, r.deleted, r.facts["status"]) for r in records}
    assert state == {
        "a@x.example": (False, False, "subscribed"),
        "b@x.example": (True, False, "unsubscribed"),
        "c@x.example": (True, False, "cleaned"),
        "d@x.example": (False, True, "archived"),
    }
    first = next(r for r in records if r.values["email"] == "a@x.example")
    assert (first.values["first_name"], first.values["custom.SPEND"]) == ("A", 5)
    assert first.values["emails"] == ["a@x.example"]


def test_the_next_read_lists_only_what_changed_since(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    emulator.freeze_clock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    add(emulator, "a@x.example")
    add(emulator, "b@x.example")
    _, checkpoint = read(connector, None)
    emulator.advance_clock(30)
    emulator.edit_member(LIST_ID, "b@x.example", {"LNAME": "Baker"})
    emulator.archive(LIST_ID, "a@x.example")
    records, checkpoint = read(connector, checkpoint)
    assert [(r.values["email"], r.deleted) for r in records] == [
        ("b@x.example", False),
        ("a@x.example", True),
    ]
    assert read(connector, checkpoint)[0] == []


def test_members_sharing_a_second_across_pages_are_each_read_once(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    connector.page_size = 2
    emulator.freeze_clock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    emails = [f"m{i}@x.example" for i in range(5)]
    for email in emails:
        add(emulator, email)
    records, checkpoint = read(connector, None)
    assert sorted(r.values["email"] for r in records) == emails
    add(emulator, "late@x.example")  # the same second, after the read
    again, _ = read(connector, checkpoint)
    assert [r.values["email"] for r in again] == ["late@x.example"]


def test_a_member_changed_while_the_pages_are_read_costs_no_other_member(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    connector.page_size = 2
    emulator.freeze_clock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    emails = [f"m{i}@x.example" for i in range(6)]
    for email in emails:
        emulator.advance_clock(1)
        add(emulator, email)
    pages = connector.list_changed(None)
    seen = [r.values["email"] for r in next(pages).records]
    emulator.advance_clock(60)
    emulator.edit_member(LIST_ID, "m0@x.example", {"FNAME": "Moved"})  # jumps to the end
    for page in pages:
        seen.extend(r.values["email"] for r in page.records)
    assert sorted(set(seen)) == emails
    assert seen.count("m0@x.example") == 2


def test_find_by_emails_reads_each_member_by_its_hash_and_skips_archived_ones(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    add(emulator, "Ann@X.example")
    add(emulator, "gone@x.example")
    emulator.archive(LIST_ID, "gone@x.example")
    found = connector.find_by_emails(["ann@x.example", "gone@x.example", "none@x.example"])
    assert list(found) == ["ann@x.example"]
    assert found["ann@x.example"][0].values["email"] == "Ann@X.example"


def test_a_change_within_the_second_of_the_last_read_is_still_read(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    emulator.freeze_clock(dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC))
    add(emulator, "a@x.example", merge_fields={"FNAME": "Ann"})
    _, checkpoint = read(connector, None)
    emulator.edit_member(LIST_ID, "a@x.example", {"FNAME": "Anna"})
    records, checkpoint = read(connector, checkpoint)
    assert [r.values["first_name"] for r in records] == ["Anna"]
    assert read(connector, checkpoint)[0] == []


def test_the_only_audience_is_kept_with_the_credentials_when_verified(
    emulator: MailchimpEmulator, mailchimp_sandbox: object
) -> None:
    account, key = emulator.create_account("us6", name="Solo", login_email="solo@x.example")
    emulator.create_audience(account.user_id, "Only one", list_id="solo000001")
    kept: list[dict[str, object]] = []
    connector = MailchimpConnector({"api_key": key}, on_credentials_changed=kept.append)
    connector.check()
    assert kept == [{"api_key": key, "list_id": "solo000001"}]
