"""Mailchimp's limits as the connector meets them: a 429 (more than 10 simultaneous connections)
is waited out and retried through the HTTP seam, and a 429 that outlasts the retries leaves the
write for the next run."""

from __future__ import annotations

from integrations.connectors.mailchimp.connector import MailchimpConnector
from integrations.sync.records import ContactUpdate
from sandbox.mailchimp import MailchimpEmulator
from tests.integrations.connectors.mailchimp.conftest import add


def test_a_429_is_retried_and_the_read_goes_on(
    connector: MailchimpConnector, emulator: MailchimpEmulator, waits: list[float]
) -> None:
    add(emulator, "a@x.example")
    connector.fields()
    emulator.fail_next(2, 429)
    records = [r for page in connector.list_changed(None) for r in page.records]
    assert [r.values["email"] for r in records] == ["a@x.example"]
    assert len(waits) == 2


def test_a_write_throttled_past_the_retries_is_left_for_the_next_run(
    connector: MailchimpConnector, emulator: MailchimpEmulator
) -> None:
    member_id = add(emulator, "b@x.example")
    connector.fields()
    emulator.fail_next(10, 429)
    (result,) = connector.update_many([ContactUpdate(id=member_id, changes={"first_name": "B"})])
    assert result.throttled and not result.permanent
    emulator.fail_next(0)
    member = emulator.member("acme000001", "b@x.example")
    assert member is not None and member["merge_fields"]["FNAME"] == ""


def test_too_many_simultaneous_connections_answer_429_which_the_connector_waits_out(
    connector: MailchimpConnector, emulator: MailchimpEmulator, waits: list[float]
) -> None:
    emulator.max_connections = 0  # every request is one too many
    emulator.fail_next(0)
    add(emulator, "c@x.example")
    try:
        result = connector.update_many(
            [ContactUpdate(id=add(emulator, "d@x.example"), changes={"first_name": "D"})]
        )
    finally:
        emulator.max_connections = 10
    assert result[0].throttled
    assert len(waits) == 3
