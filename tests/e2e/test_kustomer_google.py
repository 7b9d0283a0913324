"""Kustomer ↔ Google Contacts, end to end: the Celery task runs the engine, the connectors talk
to both sandboxes over real HTTP, and the assertions read the sandboxes' stored data."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.exceptions import ValidationError

from integrations.models import Connection, RecordIssue, Rule
from integrations.services import field_mapping_add, rule_create, rule_delete
from tests.e2e.conftest import Pair, person

pytestmark = pytest.mark.django_db


def emails_on_kustomer(pair: Pair) -> Counter[str]:
    return Counter(e["email"] for c in pair.customers() for e in c.get("emails") or [])


def emails_on_google(pair: Pair) -> Counter[str]:
    return Counter(e["value"] for c in pair.contacts() for e in c.get("emailAddresses") or [])


def name_on_google(pair: Pair, email: str) -> tuple[str, str]:
    names = pair.contact_by_email(email)["names"][0]
    return names.get("givenName", ""), names.get("familyName", "")


def company_on_google(pair: Pair, email: str) -> str:
    organizations = pair.contact_by_email(email).get("organizations") or [{}]
    return str(organizations[0].get("name") or "")


def replace_rule(pair: Pair, connection: Connection, direction: str, **rule: object) -> None:
    fields_a, fields_b = pair.fields()
    for existing in Rule.objects.filter(connection=connection, direction=direction):
        rule_delete(rule=existing)
    connectors = [pair.account_a, pair.account_b]
    from integrations.connectors.accounts import connector_for

    rule_create(
        connection=connection,
        direction=direction,
        fields_a=fields_a,
        fields_b=fields_b,
        capabilities_a=connector_for(connectors[0]).capabilities,
        capabilities_b=connector_for(connectors[1]).capabilities,
        conditions=list(rule.get("conditions", [])),  # type: ignore[call-overload]
        actions=list(rule.get("actions", [])),  # type: ignore[call-overload]
    )


def test_it_merges_by_email_and_creates_the_rest_on_the_other_side(pair: Pair) -> None:
    pair.add_customer("Alice Archer", "alice@acme.example")
    pair.add_customer("Bob Baker", "bob@acme.example")
    pair.add_contact(person("Alice", "Archer", "alice@acme.example"))
    pair.add_contact(person("Dave", "Dunn", "dave@acme.example"))
    connection = pair.connect()
    run = pair.sync(connection)
    assert run.outcome == "success", run.error
    expected = {"alice@acme.example": 1, "bob@acme.example": 1, "dave@acme.example": 1}
    assert emails_on_kustomer(pair) == expected
    assert emails_on_google(pair) == expected
    assert (run.created_a, run.created_b) == (1, 1)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE


def test_it_splits_a_full_name_and_keeps_the_users_split_on_rename(pair: Pair) -> None:
    customer = pair.add_customer("Mary Ann Smith", "maryann@acme.example")
    connection = pair.connect()
    pair.sync(connection)
    assert name_on_google(pair, "maryann@acme.example") == ("Mary Ann", "Smith")

    pair.kustomer.update_customer(pair.subdomain, customer, {"name": "Mary Ann Jones"})
    pair.sync(connection)
    assert name_on_google(pair, "maryann@acme.example") == ("Mary Ann", "Jones")


def test_it_joins_a_renamed_first_name_into_the_full_name(pair: Pair) -> None:
    pair.add_customer("Mary Ann Smith", "maryann@acme.example")
    connection = pair.connect()
    pair.sync(connection)
    contact = pair.contact_by_email("maryann@acme.example")
    pair.google.edit_contact(
        pair.google_email,
        contact["resourceName"],
        **{"names": [{"givenName": "Marianne", "familyName": "Smith"}]},
    )
    pair.sync(connection)
    assert pair.customer_by_email("maryann@acme.example")["name"] == "Marianne Smith"


def test_it_keeps_edits_to_different_fields_on_both_sides(pair: Pair) -> None:
    customer = pair.add_customer("Carl Cole", "carl@acme.example", company="Old Co")
    connection = pair.connect()
    pair.sync(connection)
    contact = pair.contact_by_email("carl@acme.example")
    pair.kustomer.update_customer(pair.subdomain, customer, {"company": "New Co"})
    pair.google.edit_contact(
        pair.google_email,
        contact["resourceName"],
        **{"phoneNumbers": [{"value": "+32 9 123 45 67"}]},
    )
    pair.sync(connection)
    assert company_on_google(pair, "carl@acme.example") == "New Co"
    phones = pair.customer_by_email("carl@acme.example").get("phones") or []
    # Phones travel in E.164, the form both apps accept and compare in.
    assert [p["phone"] for p in phones] == ["+3291234567"]


def test_it_lets_the_winning_app_settle_an_edit_on_both_sides(pair: Pair) -> None:
    customer = pair.add_customer("Carl Cole", "carl@acme.example", company="Old Co")
    connection = pair.connect(winner="a")
    pair.sync(connection)
    contact = pair.contact_by_email("carl@acme.example")
    pair.kustomer.update_customer(pair.subdomain, customer, {"company": "Kustomer Co"})
    pair.google.edit_contact(
        pair.google_email, contact["resourceName"], **{"organizations": [{"name": "Google Co"}]}
    )
    run = pair.sync(connection)
    assert run.conflicts == 1
    assert company_on_google(pair, "carl@acme.example") == "Kustomer Co"
    assert pair.customer_by_email("carl@acme.example")["company"] == "Kustomer Co"


def test_it_never_lets_an_empty_winning_value_erase(pair: Pair) -> None:
    customer = pair.add_customer("Carl Cole", "carl@acme.example", company="Old Co")
    connection = pair.connect(winner="a")
    pair.sync(connection)
    contact = pair.contact_by_email("carl@acme.example")
    pair.kustomer.update_customer(pair.subdomain, customer, {"company": None})
    pair.google.edit_contact(
        pair.google_email, contact["resourceName"], **{"organizations": [{"name": "Google Co"}]}
    )
    pair.sync(connection)
    assert company_on_google(pair, "carl@acme.example") == "Google Co"
    assert pair.customer_by_email("carl@acme.example")["company"] == "Google Co"


def test_it_syncs_a_custom_mapping_both_ways(pair: Pair) -> None:
    pair.add_contact(person("Gina", "Gold", "gina@acme.example", custom={"loyalty tier": "gold"}))
    customer = pair.add_customer(
        "Hank Hill", "hank@acme.example", custom={"loyaltyTierStr": "silver"}
    )
    connection = pair.connect()
    fields_a, fields_b = pair.fields()
    field_mapping_add(
        connection=connection,
        field_a="custom.loyaltyTierStr",
        field_b="custom.loyalty tier",
        fields_a=fields_a,
        fields_b=fields_b,
        # The Kustomer attribute is a dropdown; Google's is free text.
        value_map={"bronze": "bronze", "silver": "silver", "gold": "gold"},
    )
    pair.sync(connection)
    assert pair.customer_by_email("gina@acme.example")["custom"]["loyaltyTierStr"] == "gold"
    hank = pair.contact_by_email("hank@acme.example")
    assert {"key": "loyalty tier", "value": "silver"} in [
        {"key": u["key"], "value": u["value"]} for u in hank.get("userDefined") or []
    ]
    pair.kustomer.update_customer(pair.subdomain, customer, {"custom": {"loyaltyTierStr": "gold"}})
    pair.sync(connection)
    hank = pair.contact_by_email("hank@acme.example")
    assert {"key": "loyalty tier", "value": "gold"} in [
        {"key": u["key"], "value": u["value"]} for u in hank.get("userDefined") or []
    ]


def test_it_refuses_a_dropdown_to_text_mapping_without_a_value_map(pair: Pair) -> None:
    pair.add_contact(person("Gina", "Gold", "gina@acme.example", custom={"loyalty tier": "gold"}))
    connection = pair.connect()
    fields_a, fields_b = pair.fields()
    with pytest.raises(ValidationError) as excinfo:
        field_mapping_add(
            connection=connection,
            field_a="custom.loyaltyTierStr",
            field_b="custom.loyalty tier",
            fields_a=fields_a,
            fields_b=fields_b,
        )
    assert "value map" in " ".join(excinfo.value.messages)


def test_it_refuses_a_text_field_into_a_number_with_the_reason(pair: Pair) -> None:
    connection = pair.connect()
    fields_a, fields_b = pair.fields()
    with pytest.raises(ValidationError) as excinfo:
        field_mapping_add(
            connection=connection,
            field_a="custom.totalSpentNum",
            field_b="company",
            direction="b_to_a",
            fields_a=fields_a,
            fields_b=fields_b,
        )
    assert "text" in " ".join(excinfo.value.messages).lower()


def test_it_sends_only_negative_sentiment_to_google(pair: Pair) -> None:
    pair.add_customer(
        "Nora Neg", "nora@acme.example", sentiment={"polarity": -1, "confidence": 0.9}
    )
    pair.add_customer("Pete Pos", "pete@acme.example", sentiment={"polarity": 1, "confidence": 0.9})
    connection = pair.connect()
    replace_rule(
        pair,
        connection,
        Rule.Direction.A_TO_B,
        conditions=[
            {
                "kind": "special",
                "field": "kustomer.sentiment",
                "operator": "is",
                "value": "negative",
            }
        ],
    )
    run = pair.sync(connection)
    assert set(emails_on_google(pair)) == {"nora@acme.example"}
    assert run.excluded >= 1


def test_it_sends_only_contacts_with_open_conversations(pair: Pair) -> None:
    pair.kustomer.add_customer(
        pair.subdomain,
        {"name": "Olga Open", "emails": [{"type": "work", "email": "olga@acme.example"}]},
        open_conversations=2,
    )
    pair.kustomer.add_customer(
        pair.subdomain,
        {"name": "Carl Closed", "emails": [{"type": "work", "email": "carl@acme.example"}]},
        open_conversations=0,
    )
    connection = pair.connect()
    replace_rule(
        pair,
        connection,
        Rule.Direction.A_TO_B,
        conditions=[
            {
                "kind": "special",
                "field": "kustomer.open_conversations",
                "operator": "is",
                "value": "has open conversations",
            }
        ],
    )
    pair.sync(connection)
    assert set(emails_on_google(pair)) == {"olga@acme.example"}


def test_it_updates_but_never_creates_with_already_existing(pair: Pair) -> None:
    customer = pair.add_customer("Eve Exists", "eve@acme.example", company="Eve Co")
    pair.add_customer("Nick New", "nick@acme.example")
    pair.add_contact(person("Eve", "Exists", "eve@acme.example"))
    connection = pair.connect()
    replace_rule(pair, connection, Rule.Direction.A_TO_B, conditions=[{"kind": "exists_in_other"}])
    pair.sync(connection)
    pair.kustomer.update_customer(pair.subdomain, customer, {"company": "Eve Corp"})
    pair.sync(connection)
    assert set(emails_on_google(pair)) == {"eve@acme.example"}
    assert company_on_google(pair, "eve@acme.example") == "Eve Corp"


def test_it_labels_what_arrives_in_google(pair: Pair) -> None:
    pair.add_customer("Lara Label", "lara@acme.example")
    connection = pair.connect()
    replace_rule(
        pair,
        connection,
        Rule.Direction.A_TO_B,
        actions=[{"kind": "add_tag", "value": "Kustomer"}],
    )
    pair.sync(connection)
    contact = pair.contact_by_email("lara@acme.example")
    assert "Kustomer" in pair.labels(contact)


def test_it_syncs_addresses_as_addresses(pair: Pair) -> None:
    pair.add_customer(
        "Gert Gent",
        "gert@acme.example",
        locations=[
            {"type": "work", "address": "Veldstraat 1", "cityName": "Ghent", "countryCode": "BE"}
        ],
    )
    connection = pair.connect()
    pair.sync(connection)
    (address,) = pair.contact_by_email("gert@acme.example")["addresses"]
    assert (address.get("streetAddress"), address.get("city")) == ("Veldstraat 1", "Ghent")
    assert pair.sync(connection).writes == 0


def test_it_makes_no_writes_on_a_second_run_without_edits(pair: Pair) -> None:
    pair.add_customer(
        "Alice Archer",
        "alice@acme.example",
        company="Acme",
        locations=[{"type": "home", "cityName": "Lyon", "countryCode": "FR"}],
    )
    pair.add_customer("Mary Ann Smith", "maryann@acme.example")
    pair.add_contact(person("Dave", "Dunn", "dave@acme.example", phone="+1 512 555 0100"))
    connection = pair.connect()
    first = pair.sync(connection)
    assert first.writes > 0
    second = pair.sync(connection)
    assert second.outcome == "success"
    assert second.writes == 0


def test_it_turns_a_kustomer_409_into_a_record_issue_and_syncs_the_rest(pair: Pair) -> None:
    # Kustomer keeps phone numbers unique per org: a Google contact reusing one cannot be created.
    pair.add_customer("Kim Keeper", "kim@acme.example", phones=[{"phone": "+15125550100"}])
    pair.add_contact(person("Phil Phone", "Twin", "phil@acme.example", phone="+1 512 555 0100"))
    pair.add_contact(person("Fine", "Fellow", "fine@acme.example"))
    connection = pair.connect()
    run = pair.sync(connection)
    assert run.outcome == "partial"
    assert run.failed == 1
    issue = RecordIssue.objects.get(connection=connection)
    assert issue.side == "b" and issue.target == "a"
    assert "Kustomer refused phones" in issue.reason
    assert set(emails_on_kustomer(pair)) == {"kim@acme.example", "fine@acme.example"}
