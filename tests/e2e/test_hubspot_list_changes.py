"""Google Contacts ↔ HubSpot, end to end: joining a HubSpot static list leaves the contact's
``lastmodifieddate`` as it was, and the next run still carries it (the connector reads the lists'
members each run)."""

from __future__ import annotations

import pytest

from integrations.connectors.accounts import connector_for
from integrations.models import Rule
from integrations.services import field_mapping_add, rule_create, rule_delete
from tests.e2e.conftest import person
from tests.e2e.test_google_hubspot import GoogleHubSpot, apps  # noqa: F401

pytestmark = pytest.mark.django_db


def only_list_members(apps: GoogleHubSpot, connection: object, name: str) -> None:  # noqa: F811
    """HubSpot → Google syncs the contacts on list ``name`` only."""
    google, hubspot = connector_for(apps.account_a), connector_for(apps.account_b)
    for existing in Rule.objects.filter(connection=connection, direction=Rule.Direction.B_TO_A):
        rule_delete(rule=existing)
    rule_create(
        connection=connection,
        direction=Rule.Direction.B_TO_A,
        fields_a=google.fields(),
        fields_b=hubspot.fields(),
        capabilities_a=google.capabilities,
        capabilities_b=hubspot.capabilities,
        conditions=[
            {"kind": "special", "field": "hubspot.in_list", "operator": "is", "value": name}
        ],
        actions=[],
    )


def join(apps: GoogleHubSpot, contact_id: str, name: str) -> None:  # noqa: F811
    """Add the contact to the list through HubSpot's lists API, as a HubSpot user would."""
    (result,) = connector_for(apps.account_b).tag([contact_id], name)
    assert result.ok, result


def test_a_contact_added_to_the_rules_list_in_hubspot_arrives_in_google_next_run(
    apps: GoogleHubSpot,  # noqa: F811
) -> None:
    # Older than the overlap the change search starts with.
    apps.hubspot.advance_clock(-3600)
    hank = apps.add_hubspot(email="hank@acme.example", firstname="Hank", lastname="Hill")
    ivy = apps.add_hubspot(email="ivy@acme.example", firstname="Ivy", lastname="Ives")
    apps.hubspot.advance_clock(3600)
    join(apps, hank, "VIP")
    connection = apps.connect()
    only_list_members(apps, connection, "VIP")
    first = apps.sync(connection)
    assert first.outcome == "success", first.error
    assert set(apps.google_emails()) == {"hank@acme.example"}
    stamp = apps.hubspot_by_email("ivy@acme.example")["properties"]["lastmodifieddate"]
    join(apps, ivy, "VIP")
    assert apps.hubspot_by_email("ivy@acme.example")["properties"]["lastmodifieddate"] == stamp
    run = apps.sync(connection)
    assert run.outcome == "success", run.error
    assert set(apps.google_emails()) == {"hank@acme.example", "ivy@acme.example"}
    assert apps.contact_by_email("ivy@acme.example")["names"][0]["givenName"] == "Ivy"


def test_a_linked_contact_added_to_a_list_in_hubspot_gets_the_label_in_google(
    apps: GoogleHubSpot,  # noqa: F811
) -> None:
    apps.add_contact(person("Gina", "Gold", "gina@acme.example"))
    connection = apps.connect()
    google, hubspot = connector_for(apps.account_a), connector_for(apps.account_b)
    field_mapping_add(
        connection=connection,
        field_a="tags",
        field_b="tags",
        fields_a=google.fields(),
        fields_b=hubspot.fields(),
        direction="b_to_a",
    )
    apps.sync(connection)
    # A later edit of another contact moves the change search past Gina's stamp.
    apps.hubspot.advance_clock(600)
    apps.add_hubspot(email="hank@acme.example", firstname="Hank")
    apps.sync(connection)
    gina = apps.hubspot_by_email("gina@acme.example")["id"]
    join(apps, gina, "Newsletter")
    run = apps.sync(connection)
    assert run.outcome == "success", run.error
    contact = apps.contact_by_email("gina@acme.example")
    groups = apps.google.add_user(apps.google_email).groups
    labels = {
        groups[m["contactGroupMembership"]["contactGroupResourceName"]]["name"]
        for m in contact.get("memberships") or []
        if m["contactGroupMembership"]["contactGroupResourceName"] in groups
    }
    assert "Newsletter" in labels
