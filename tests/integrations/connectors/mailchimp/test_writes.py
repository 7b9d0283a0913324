"""Writing members over HTTP to the emulator: upserts with ``status_if_new``, merge fields and
emails, tags, refusals folded into results, and the two things the connector never does:
subscribe again anyone who unsubscribed or was cleaned, and delete anyone."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from integrations.connectors.mailchimp.connector import MailchimpConnector
from integrations.sync.records import ContactUpdate, NewContact
from sandbox.mailchimp import MailchimpEmulator, subscriber_hash
from tests.integrations.connectors.mailchimp.conftest import LIST_ID, add

Make = Callable[..., MailchimpConnector]


def test_a_new_member_is_added_subscribed_with_its_typed_merge_fields(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    (result,) = connector.create_many(
        [
            NewContact(
                ref="r1",
                values={
                    "email": "Ann@X.example",
                    "first_name": "Ann",
                    "last_name": "Archer",
                    "custom.TIER": "gold",
                    "custom.SPEND": 12.5,
                    "custom.JOINED": "2026-02-01",
                    "address": {
                        "street": "1 Main St",
                        "city": "Ghent",
                        "region": "OVL",
                        "postal_code": "9000",
                        "country": "BE",
                    },
                },
            )
        ]
    )
    assert result.ok and result.record is not None
    member = emulator.member(LIST_ID, "ann@x.example")
    assert member is not None and member["status"] == "subscribed"
    assert result.record.id == member["contact_id"]
    assert member["merge_fields"]["TIER"] == "gold"
    assert member["merge_fields"]["SPEND"] == 12.5
    assert member["merge_fields"]["ADDRESS"]["city"] == "Ghent"
    assert emulator.requests["PUT /lists/{list_id}/members/{subscriber_hash}"] == 1


def test_creating_a_member_who_unsubscribed_meanwhile_keeps_them_unsubscribed(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    add(emulator, "bo@x.example", status="unsubscribed")
    (result,) = connector.create_many(
        [NewContact(ref="r1", values={"email": "bo@x.example", "first_name": "Bo"})]
    )
    assert result.ok and result.record is not None and result.record.unsubscribed
    member = emulator.member(LIST_ID, "bo@x.example")
    assert member is not None
    assert (member["status"], member["merge_fields"]["FNAME"]) == ("unsubscribed", "Bo")


def test_a_contact_unsubscribed_in_the_other_app_joins_unsubscribed(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    (result,) = connector.create_many(
        [NewContact(ref="r1", values={"email": "di@x.example"}, unsubscribed=True)]
    )
    assert result.ok and result.record is not None and result.record.unsubscribed
    member = emulator.member(LIST_ID, "di@x.example")
    assert member is not None and member["status"] == "unsubscribed"
    assert emulator.requests["PUT /lists/{list_id}/members/{subscriber_hash}"] == 1


def test_a_batch_adds_contacts_unsubscribed_in_the_other_app_as_unsubscribed(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    optouts = {"u1@x.example": True, "s1@x.example": False, "u2@x.example": True}
    results = connector.create_many(
        [NewContact(ref=e, values={"email": e}, unsubscribed=out) for e, out in optouts.items()]
    )
    assert all(r.ok for r in results)
    assert emulator.requests["POST /lists/{list_id}"] == 1
    statuses = {m["email_address"]: m["status"] for m in emulator.members(LIST_ID)}
    assert statuses == {
        "u1@x.example": "unsubscribed",
        "s1@x.example": "subscribed",
        "u2@x.example": "unsubscribed",
    }


@pytest.mark.parametrize("cleaned", [False, True])
def test_an_update_never_subscribes_an_unsubscribed_or_cleaned_member_again(
    connector: MailchimpConnector, emulator: MailchimpEmulator, cleaned: bool
) -> None:
    member_id = add(emulator, "cy@x.example")
    emulator.unsubscribe(LIST_ID, "cy@x.example", cleaned=cleaned)
    (result,) = connector.update_many([ContactUpdate(id=member_id, changes={"first_name": "Cy"})])
    assert result.ok
    member = emulator.member(LIST_ID, "cy@x.example")
    assert member is not None
    assert member["status"] == ("cleaned" if cleaned else "unsubscribed")
    assert member["merge_fields"]["FNAME"] == "Cy"


def test_a_value_of_the_wrong_type_is_refused_before_anything_is_sent(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    member_id = add(emulator, "di@x.example")
    connector.fields()
    emulator.requests.clear()
    (result,) = connector.update_many(
        [ContactUpdate(id=member_id, changes={"custom.TIER": "platinum"})]
    )
    assert not result.ok and result.permanent
    assert "custom.TIER" in result.error and "bronze" in result.error
    assert emulator.requests.total == 0


def test_a_changed_email_keeps_the_members_id(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    member_id = add(emulator, "ed@x.example")
    (result,) = connector.update_many(
        [ContactUpdate(id=member_id, changes={"email": "ed@y.example"})]
    )
    assert result.ok and result.record is not None
    assert (result.record.id, result.record.values["email"]) == (member_id, "ed@y.example")
    assert emulator.member(LIST_ID, "ed@x.example") is None
    assert connector.get_many([member_id])[0].values["email"] == "ed@y.example"


def test_tags_are_added_and_removed_and_unknown_ones_created(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    member_id = add(emulator, "fay@x.example", tags=["old"])
    (tagged,) = connector.tag([member_id], "Tandem Unsubscribes")
    assert tagged.record is not None and sorted(tagged.record.tags) == [
        "Tandem Unsubscribes",
        "old",
    ]
    (untagged,) = connector.untag([member_id], "old")
    assert untagged.record is not None and untagged.record.tags == ["Tandem Unsubscribes"]


def test_a_forgotten_email_fails_its_record_and_the_batch_goes_on(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    add(emulator, "gus@x.example")
    emulator.audience(LIST_ID).members.pop(subscriber_hash("gus@x.example"))
    emulator.audience(LIST_ID).forgotten.add(subscriber_hash("gus@x.example"))
    gone, fine = connector.create_many(
        [
            NewContact(ref="1", values={"email": "gus@x.example"}),
            NewContact(ref="2", values={"email": "hal@x.example"}),
        ]
    )
    assert not gone.ok and gone.permanent and "Forgotten Email Not Subscribed" in gone.error
    assert fine.ok


def test_a_member_archived_meanwhile_fails_its_update_for_now(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    member_id = add(emulator, "ida@x.example")
    emulator.archive(LIST_ID, "ida@x.example")
    (result,) = connector.update_many([ContactUpdate(id=member_id, changes={"first_name": "I"})])
    assert not result.ok and "archived" in result.error
    member = emulator.member(LIST_ID, "ida@x.example")
    assert member is not None and member["status"] == "archived"


def test_a_member_without_an_email_is_refused(connector: MailchimpConnector) -> None:
    (result,) = connector.create_many([NewContact(ref="1", values={"first_name": "Nobody"})])
    assert not result.ok and "email" in result.error


def test_no_write_ever_archives_deletes_or_changes_a_status(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    quiet = add(emulator, "jo@x.example")
    emulator.unsubscribe(LIST_ID, "jo@x.example")
    (created,) = connector.create_many([NewContact(ref="1", values={"email": "kay@x.example"})])
    assert created.record is not None
    for record_id in (quiet, created.record.id):
        connector.update_many([ContactUpdate(id=record_id, changes={"last_name": "Q"})])
        connector.tag([record_id], "Tandem Trash")
        connector.untag([record_id], "Tandem Trash")
    kinds = set(emulator.requests)
    assert not any(k.startswith("DELETE") or "delete-permanent" in k for k in kinds)
    statuses = {m["email_address"]: m["status"] for m in emulator.members(LIST_ID)}
    assert statuses == {"jo@x.example": "unsubscribed", "kay@x.example": "subscribed"}


def test_many_new_members_are_added_in_one_batch_and_an_existing_one_keeps_its_status(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    add(emulator, "old@x.example", status="unsubscribed")
    emulator.audience(LIST_ID).forgotten.add(subscriber_hash("gone@x.example"))
    emails = ["n1@x.example", "old@x.example", "gone@x.example", "n2@x.example"]
    results = connector.create_many(
        [NewContact(ref=e, values={"email": e, "first_name": "F"}) for e in emails]
    )
    assert [(r.ref, r.ok) for r in results] == [
        ("n1@x.example", True),
        ("old@x.example", True),
        ("gone@x.example", False),
        ("n2@x.example", True),
    ]
    assert "permanently deleted" in results[2].error and results[2].permanent
    assert emulator.requests["POST /lists/{list_id}"] == 1
    assert emulator.requests["PUT /lists/{list_id}/members/{subscriber_hash}"] == 1
    statuses = {m["email_address"]: m["status"] for m in emulator.members(LIST_ID)}
    assert statuses == {
        "old@x.example": "unsubscribed",
        "n1@x.example": "subscribed",
        "n2@x.example": "subscribed",
    }
    old = emulator.member(LIST_ID, "old@x.example")
    assert old is not None and old["merge_fields"]["FNAME"] == "F"
