"""`manage.py explain_contact`: why a contact is or is not in sync, over the sandboxes."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from integrations.connectors.accounts import connector_for
from integrations.models import Connection, Rule
from integrations.services import rule_create, rule_delete
from tests.e2e.conftest import Pair, person

pytestmark = pytest.mark.django_db


def explain(connection: Connection, contact: str, capsys, *extra: str) -> str:
    call_command("explain_contact", str(connection.pk), contact, *extra)
    return str(capsys.readouterr().out)


def verdict(connection: Connection, contact: str, capsys) -> str:
    return explain(connection, contact, capsys).strip().splitlines()[-1]


def only_acme_companies(pair: Pair, connection: Connection) -> None:
    fields_a, fields_b = pair.fields()
    for existing in Rule.objects.filter(connection=connection, direction="a_to_b"):
        rule_delete(rule=existing)
    rule_create(
        connection=connection,
        direction="a_to_b",
        conditions=[{"kind": "field", "field": "company", "operator": "contains", "value": "Acme"}],
        actions=[],
        fields_a=fields_a,
        fields_b=fields_b,
        capabilities_a=connector_for(pair.account_a).capabilities,
        capabilities_b=connector_for(pair.account_b).capabilities,
        name="Acme only",
    )


def test_it_says_a_synced_contact_is_in_sync(pair: Pair, capsys) -> None:
    customer = pair.add_customer("Carl Cole", "carl@acme.example", company="Acme")
    connection = pair.connect()
    pair.sync(connection)
    out = explain(connection, "Carl@Acme.example", capsys)
    contact = pair.contact_by_email("carl@acme.example")["resourceName"]
    assert f"Kustomer: {customer}" in out and f"Google Contacts: {contact}" in out
    assert "Link " in out and "snapshot Google Contacts company = 'Acme'" in out
    assert out.strip().splitlines()[-1] == (
        f"It is in sync: Kustomer {customer} and Google Contacts {contact} are linked and hold "
        "the same value in every mapped field."
    )


def test_it_lists_the_last_runs_that_wrote_to_it(pair: Pair, capsys) -> None:
    pair.add_customer("Carl Cole", "carl@acme.example", company="Acme")
    pair.add_contact(person("Carl", "Cole", "carl@acme.example"))
    connection = pair.connect()
    run = pair.sync(connection)
    out = explain(connection, "carl@acme.example", capsys)
    assert f"run {run.pk} " in out
    assert "update company: None -> 'Acme'" in out


def test_it_names_the_condition_that_excludes_it_and_the_value_it_saw(pair: Pair, capsys) -> None:
    pair.add_customer("Gina Globex", "gina@globex.example", company="Globex")
    connection = pair.connect()
    only_acme_companies(pair, connection)
    pair.sync(connection)
    out = explain(connection, "gina@globex.example", capsys)
    assert "company contains 'Acme': false (saw 'Globex')" in out
    assert out.strip().splitlines()[-1] == (
        "It is not synced: it is excluded from Kustomer → Google Contacts: Acme only's "
        "condition \"company contains 'Acme'\" is false (it saw 'Globex')."
    )


def test_it_reports_a_duplicate_email_on_one_side(pair: Pair, capsys) -> None:
    first = pair.add_contact(person("Dan", "One", "dan@acme.example"))
    second = pair.add_contact(person("Dan", "Two", "dan@acme.example"))
    connection = pair.connect()
    pair.sync(connection)
    assert verdict(connection, "dan@acme.example", capsys) == (
        f"It is a duplicate: 2 Google Contacts records share its email ({first}, {second}); "
        "Tandem never guesses which one to link. Merge them in Google Contacts."
    )


def test_it_gives_the_apps_reason_for_a_failing_contact(pair: Pair, capsys) -> None:
    pair.add_customer("Kim Keeper", "kim@acme.example", phones=[{"phone": "+15125550100"}])
    phil = pair.add_contact(person("Phil", "Twin", "phil@acme.example", phone="+1 512 555 0100"))
    connection = pair.connect()
    pair.sync(connection)
    out = explain(connection, phil, capsys)
    last = out.strip().splitlines()[-1]
    assert last.startswith("It fails to sync: Kustomer refused it: Kustomer refused phones")
    assert "(attempt 1; next retry" in last
    assert f"Google Contacts {phil}: Kustomer refused phones" in out


def test_it_explains_a_contact_without_email_is_skipped(pair: Pair, capsys) -> None:
    nomail = pair.add_contact(person("Nobody", "Mailless", None))
    connection = pair.connect()
    pair.sync(connection)
    assert verdict(connection, nomail, capsys) == (
        'It has no email address and "avoid duplicates" is on, so Tandem skips it. '
        "Add an email in Google Contacts or turn the option off."
    )


def test_it_says_when_it_has_never_seen_a_contact(pair: Pair, capsys) -> None:
    connection = pair.connect()
    assert verdict(connection, "ghost@acme.example", capsys) == (
        "Tandem has never seen it: no record matching 'ghost@acme.example' exists in "
        "Kustomer or Google Contacts."
    )


def test_it_says_a_new_contact_is_created_on_the_next_run(pair: Pair, capsys) -> None:
    customer = pair.add_customer("Nina New", "nina@acme.example")
    connection = pair.connect()
    assert verdict(connection, customer, capsys) == (
        f"It is not synced yet: the next run creates it in Google Contacts from Kustomer "
        f"{customer}."
    )


def test_it_shows_each_mapping_and_the_value_it_produces(pair: Pair, capsys) -> None:
    pair.add_customer("Mary Ann Smith", "maryann@acme.example")
    connection = pair.connect()
    out = explain(connection, "maryann@acme.example", capsys)
    assert "name ⇄ name" in out
    assert "gives Google Contacts {'first': 'Mary Ann', 'last': 'Smith'}" in out


def test_it_prints_json_for_scripts(pair: Pair, capsys) -> None:
    pair.add_customer("Carl Cole", "carl@acme.example", company="Acme")
    connection = pair.connect()
    pair.sync(connection)
    data = json.loads(explain(connection, "carl@acme.example", capsys, "--json"))
    assert data["verdict"].startswith("It is in sync")
    assert data["link"]["id_a"] == data["records"]["a"][0]["id"]
    assert data["rules"]["a_to_b"][0]["matches"] is True


def test_it_refuses_an_unknown_connection(db: None) -> None:
    with pytest.raises(CommandError, match="No connection with id 55555"):
        call_command("explain_contact", "55555", "carl@acme.example")


def test_it_refuses_an_empty_contact(pair: Pair) -> None:
    connection = pair.connect()
    with pytest.raises(CommandError, match="Give an email address or a record id"):
        call_command("explain_contact", str(connection.pk), "  ")
