"""The guided set-up step by step, and the rules / mappings / options pages of a connection.
The apps' fields are given (no app is called); tests/integrations/test_pages_wizard_e2e.py
goes through it all against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ConnectedAccount, Membership, User, Workspace
from integrations.catalog import standard_fields
from integrations.connectors.registry import connector_class
from integrations.forms import ConnectionFields, FieldsUnavailable
from integrations.models import Condition, Connection, FieldMapping, Rule, SyncRun
from integrations.services import setup
from integrations.sync.fields import FieldSpec, FieldType
from tests.factories import ConnectedAccountFactory, ConnectionFactory, MembershipFactory

pytestmark = pytest.mark.django_db

SEATS = FieldSpec("custom.seatsNum", "Seats", FieldType.NUMBER, custom=True)
TIER = FieldSpec("custom.tierStr", "Tier", FieldType.ENUM, choices=("gold", "silver"), custom=True)
PLAN = FieldSpec("custom.plan", "plan", FieldType.TEXT, custom=True)


def fields() -> ConnectionFields:
    return ConnectionFields.build(
        app_a="Kustomer",
        fields_a=[*standard_fields("kustomer"), SEATS, TIER],
        capabilities_a=connector_class("kustomer").capabilities,
        app_b="Google Contacts",
        fields_b=[*standard_fields("google_contacts"), PLAN],
        capabilities_b=connector_class("google_contacts").capabilities,
    )


@pytest.fixture(autouse=True)
def known_fields() -> Iterator[None]:
    loaded = fields()
    with (
        mock.patch.object(ConnectionFields, "load", return_value=loaded),
        mock.patch.object(ConnectionFields, "load_accounts", return_value=loaded),
    ):
        yield


@pytest.fixture
def client_alice(client: Client, alice: User, acme: Workspace) -> Client:
    client.force_login(alice)
    return client


@pytest.fixture
def kustomer(acme: Workspace) -> ConnectedAccount:
    return ConnectedAccountFactory(workspace=acme, app="kustomer", label="acme.kustomerapp.com")


@pytest.fixture
def google(acme: Workspace) -> ConnectedAccount:
    return ConnectedAccountFactory(workspace=acme, app="google_contacts", label="ops@acme.example")


def draft_for(
    workspace: Workspace, a: ConnectedAccount, b: ConnectedAccount, **kw: Any
) -> Connection:
    loaded = fields()
    return setup.connection_create(
        workspace=workspace, account_a=a, account_b=b, start=False,
        **loaded.service_kwargs(), **kw,
    )  # fmt: skip


@pytest.fixture
def draft(acme: Workspace, kustomer: ConnectedAccount, google: ConnectedAccount) -> Connection:
    return draft_for(acme, kustomer, google)


def management(prefix: str, total: int, initial: int = 0) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def rule_post(**parts: str) -> dict[str, str]:
    return {**management("conditions", 1), **management("actions", 1), **parts}


# -- Steps 1 to 3 --------------------------------------------------------------------------------


def test_it_shows_the_step_list_with_the_current_step(client_alice: Client) -> None:
    page = client_alice.get(reverse("integrations:connection_new")).content.decode()
    assert 'class="steps"' in page
    assert 'class="current" aria-current="step"' in page
    assert "1. Apps" in page and "7. Review" in page


def test_it_goes_from_two_apps_to_their_accounts(client_alice: Client) -> None:
    response = client_alice.get(
        reverse("integrations:connection_new"), {"app_a": "kustomer", "app_b": "google_contacts"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("integrations:connection_new_accounts"))


def test_it_refuses_an_unknown_app_beside_the_field(client_alice: Client) -> None:
    response = client_alice.get(
        reverse("integrations:connection_new"), {"app_a": "myspace", "app_b": "google_contacts"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["app_a"]
    assert 'class="errorlist' in response.content.decode()


def test_it_offers_the_workspaces_accounts_and_authorizing_a_new_one(
    client_alice: Client, kustomer: ConnectedAccount, google: ConnectedAccount, globex: Workspace
) -> None:
    ConnectedAccountFactory(workspace=globex, app="kustomer", label="globex.kustomerapp.com")
    query = {"app_a": "kustomer", "app_b": "google_contacts"}
    page = client_alice.get(reverse("integrations:connection_new_accounts"), query).content.decode()
    assert "acme.kustomerapp.com" in page and "ops@acme.example" in page
    assert "globex.kustomerapp.com" not in page
    assert "Choose from your connected accounts" in page
    new_url = reverse("accounts:connected_account_new", kwargs={"app": "google_contacts"})
    assert f"{new_url}?next=%2Fconnections%2Fnew%2Faccounts%2F%3Fapp_a%3Dkustomer" in page


def test_it_goes_from_two_accounts_to_the_direction(
    client_alice: Client, kustomer: ConnectedAccount, google: ConnectedAccount
) -> None:
    response = client_alice.get(
        reverse("integrations:connection_new_accounts"),
        {"app_a": "kustomer", "app_b": "google_contacts", "account_a": kustomer.pk,
         "account_b": google.pk},
    )  # fmt: skip
    assert response.status_code == 302
    assert f"account_a={kustomer.pk}&account_b={google.pk}" in response["Location"]


def test_it_refuses_the_same_account_on_both_sides(
    client_alice: Client, kustomer: ConnectedAccount
) -> None:
    response = client_alice.get(
        reverse("integrations:connection_new_accounts"),
        {"app_a": "kustomer", "app_b": "kustomer", "account_a": kustomer.pk,
         "account_b": kustomer.pk},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.context["form"].errors["account_b"] == ["Choose two different accounts."]


def test_it_refuses_another_workspaces_account_in_step_two(
    client_alice: Client, kustomer: ConnectedAccount, globex: Workspace
) -> None:
    theirs = ConnectedAccountFactory(workspace=globex, app="google_contacts")
    response = client_alice.get(
        reverse("integrations:connection_new_accounts"),
        {"app_a": "kustomer", "app_b": "google_contacts", "account_a": kustomer.pk,
         "account_b": theirs.pk},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.context["form"].errors["account_b"]


def test_it_answers_404_for_another_workspaces_account_in_step_three(
    client_alice: Client, kustomer: ConnectedAccount, globex: Workspace
) -> None:
    theirs = ConnectedAccountFactory(workspace=globex, app="google_contacts")
    url = reverse("integrations:connection_new_direction")
    response = client_alice.post(
        url, {"account_a": kustomer.pk, "account_b": theirs.pk, "direction": "two_way"}
    )
    assert response.status_code == 404
    assert not Connection.objects.exists()


def test_it_names_the_directions_by_the_apps(
    client_alice: Client, kustomer: ConnectedAccount, google: ConnectedAccount
) -> None:
    page = client_alice.get(
        reverse("integrations:connection_new_direction"),
        {"account_a": kustomer.pk, "account_b": google.pk},
    ).content.decode()
    assert "Two-way: Kustomer ⇄ Google Contacts" in page
    assert "One way: Google Contacts → Kustomer" in page


def test_it_stores_a_draft_on_completing_step_three(
    client_alice: Client, kustomer: ConnectedAccount, google: ConnectedAccount
) -> None:
    response = client_alice.post(
        reverse("integrations:connection_new_direction"),
        {"account_a": kustomer.pk, "account_b": google.pk, "direction": "a_to_b",
         "name": "Support to phones"},
    )  # fmt: skip
    (connection,) = Connection.objects.all()
    assert response["Location"] == reverse("integrations:connection_rules", args=[connection.pk])
    assert (connection.status, connection.direction, connection.name) == (
        Connection.Status.DRAFT,
        "a_to_b",
        "Support to phones",
    )
    assert connection.field_mappings.filter(is_default=True).exists()


def test_it_says_so_when_an_app_cannot_be_reached_in_step_three(
    client_alice: Client, kustomer: ConnectedAccount, google: ConnectedAccount
) -> None:
    trouble = FieldsUnavailable("Kustomer (acme.kustomerapp.com): could not be reached")
    with mock.patch.object(ConnectionFields, "load_accounts", side_effect=trouble):
        response = client_alice.post(
            reverse("integrations:connection_new_direction"),
            {"account_a": kustomer.pk, "account_b": google.pk, "direction": "two_way"},
        )
    assert response.status_code == 200
    assert "could not be reached" in response.content.decode()
    assert not Connection.objects.exists()


# -- Step 4: rules ---------------------------------------------------------------------------------


def test_it_lists_the_rules_per_direction_named_by_apps(
    client_alice: Client, draft: Connection
) -> None:
    page = client_alice.get(
        reverse("integrations:connection_rules", args=[draft.pk])
    ).content.decode()
    assert "From Kustomer to Google Contacts" in page
    assert "From Google Contacts to Kustomer" in page
    assert "All contacts" in page
    assert "4. Rules" in page


def test_it_adds_a_rule_with_a_condition_and_an_action(
    client_alice: Client, draft: Connection
) -> None:
    response = client_alice.post(
        reverse("integrations:rule_new", args=[draft.pk]),
        rule_post(
            direction="a_to_b",
            **{"conditions-0-field": "custom.seatsNum", "conditions-0-operator": "gt",
               "conditions-0-value": "10", "actions-0-kind": "add_tag",
               "actions-0-value": "Big account"},
        ),
    )  # fmt: skip
    assert response.status_code == 302
    rule = Rule.objects.get(connection=draft, direction="a_to_b", position=1)
    assert list(rule.conditions.values_list("field", "operator", "value")) == [
        ("custom.seatsNum", "gt", 10)
    ]
    assert list(rule.actions.values_list("kind", "value")) == [("add_tag", "Big account")]
    page = client_alice.get(response["Location"]).content.decode()
    assert "Seats is greater than / after “10”" in page
    assert "add the label “Big account”" in page


def test_it_shows_a_wrong_condition_beside_its_field_and_stores_nothing(
    client_alice: Client, draft: Connection
) -> None:
    response = client_alice.post(
        reverse("integrations:rule_new", args=[draft.pk]),
        rule_post(
            direction="a_to_b",
            **{"conditions-0-field": "custom.seatsNum", "conditions-0-operator": "gt",
               "conditions-0-value": "many"},
        ),
    )  # fmt: skip
    assert response.status_code == 200
    errors = response.context["form"].conditions.forms[0].errors
    assert "is not a number" in " ".join(errors["value"])
    assert Rule.objects.filter(connection=draft).count() == 2


def test_it_adds_a_blank_condition_row_without_saving(
    client_alice: Client, draft: Connection
) -> None:
    response = client_alice.post(
        reverse("integrations:rule_new", args=[draft.pk]),
        rule_post(direction="a_to_b", add_condition="1"),
    )
    assert response.status_code == 200
    assert len(response.context["form"].conditions.forms) == 2
    assert Rule.objects.filter(connection=draft).count() == 2


def test_it_edits_a_rule(client_alice: Client, draft: Connection) -> None:
    rule = Rule.objects.get(connection=draft, direction="b_to_a")
    page = client_alice.get(reverse("integrations:rule_edit", args=[draft.pk, rule.pk]))
    assert page.status_code == 200
    response = client_alice.post(
        reverse("integrations:rule_edit", args=[draft.pk, rule.pk]),
        rule_post(
            name="Only labelled",
            **{"conditions-0-field": "google_contacts.has_label", "conditions-0-operator": "is",
               "conditions-0-value": "Customers"},
        ),
    )  # fmt: skip
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Only labelled"
    assert list(rule.conditions.values_list("kind", "field", "value")) == [
        (Condition.Kind.SPECIAL, "google_contacts.has_label", "Customers")
    ]


def test_it_deletes_a_rule(client_alice: Client, draft: Connection) -> None:
    rule = Rule.objects.get(connection=draft, direction="a_to_b")
    response = client_alice.post(reverse("integrations:rule_delete", args=[draft.pk, rule.pk]))
    assert response.status_code == 302
    assert not Rule.objects.filter(pk=rule.pk).exists()
    page = client_alice.get(response["Location"]).content.decode()
    assert "No rule: no contact flows this way" in page


def test_it_answers_404_for_a_rule_of_another_connection(
    client_alice: Client, draft: Connection, globex: Workspace
) -> None:
    theirs = ConnectionFactory(workspace=globex)
    their_rule = Rule.objects.create(connection=theirs, direction="a_to_b")
    url = reverse("integrations:rule_delete", args=[draft.pk, their_rule.pk])
    assert client_alice.post(url).status_code == 404
    url = reverse("integrations:rule_delete", args=[theirs.pk, their_rule.pk])
    assert client_alice.post(url).status_code == 404
    assert Rule.objects.filter(pk=their_rule.pk).exists()


# -- Step 5: field mappings ----------------------------------------------------------------------


def test_it_lists_the_default_mappings_with_toggles(
    client_alice: Client, draft: Connection
) -> None:
    page = client_alice.get(
        reverse("integrations:connection_mappings", args=[draft.pk])
    ).content.decode()
    assert "Company" in page and "Turn off" in page
    assert "Add a custom mapping" in page


def test_it_turns_a_default_mapping_off_and_on(client_alice: Client, draft: Connection) -> None:
    mapping = FieldMapping.objects.get(connection=draft, field_a="company")
    url = reverse("integrations:mapping_toggle", args=[draft.pk, mapping.pk])
    client_alice.post(url, {})
    mapping.refresh_from_db()
    assert not mapping.enabled
    client_alice.post(url, {f"m{mapping.pk}-enabled": "on"})
    mapping.refresh_from_db()
    assert mapping.enabled


def test_it_adds_a_custom_mapping_with_a_value_map(client_alice: Client, draft: Connection) -> None:
    response = client_alice.post(
        reverse("integrations:connection_mappings", args=[draft.pk]),
        {"field_a": "custom.tierStr", "field_b": "custom.plan", "direction": "two_way",
         "enabled": "on", "value_map": "gold = Gold plan\nsilver = Silver plan"},
    )  # fmt: skip
    assert response.status_code == 302
    mapping = FieldMapping.objects.get(connection=draft, field_a="custom.tierStr")
    assert (mapping.field_b, mapping.direction, mapping.value_map, mapping.is_default) == (
        "custom.plan",
        "two_way",
        {"gold": "Gold plan", "silver": "Silver plan"},
        False,
    )


def test_it_refuses_an_incompatible_mapping_with_the_reason(
    client_alice: Client, draft: Connection
) -> None:
    response = client_alice.post(
        reverse("integrations:connection_mappings", args=[draft.pk]),
        {"field_a": "custom.seatsNum", "field_b": "custom.plan", "direction": "two_way",
         "enabled": "on", "value_map": ""},
    )  # fmt: skip
    assert response.status_code == 200
    page = response.content.decode()
    assert "text is not always a valid number" in page
    assert not FieldMapping.objects.filter(connection=draft, field_a="custom.seatsNum").exists()


# -- Step 6: options -------------------------------------------------------------------------------


def test_it_offers_no_deletions_box_for_kustomer_and_google(
    client_alice: Client, draft: Connection
) -> None:
    response = client_alice.get(reverse("integrations:connection_options", args=[draft.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "sync_deletions" not in page and "sync_unsubscribes" not in page
    assert "avoid_duplicates" in page


def test_it_saves_the_options_of_a_draft_and_goes_to_the_review(
    client_alice: Client, draft: Connection
) -> None:
    response = client_alice.post(
        reverse("integrations:connection_options", args=[draft.pk]),
        {"winner": "b", "sync_interval": "900"},
    )
    assert response["Location"] == reverse("integrations:connection_review", args=[draft.pk])
    draft.refresh_from_db()
    assert (draft.winner, draft.avoid_duplicates, draft.sync_interval) == ("b", False, 900)


def test_it_refuses_a_deletions_option_the_apps_cannot_honour(
    client_alice: Client, draft: Connection
) -> None:
    client_alice.post(
        reverse("integrations:connection_options", args=[draft.pk]),
        {"winner": "a", "sync_interval": "300", "sync_deletions": "on"},
    )
    draft.refresh_from_db()
    assert draft.sync_deletions is False


def test_it_offers_save_and_resume_on_a_paused_connection(
    client_alice: Client, draft: Connection
) -> None:
    Connection.objects.filter(pk=draft.pk).update(status=Connection.Status.PAUSED)
    page = client_alice.get(
        reverse("integrations:connection_options", args=[draft.pk])
    ).content.decode()
    assert "Save and resume" in page
    with mock.patch("integrations.tasks.sync_connection_task.delay"):
        response = client_alice.post(
            reverse("integrations:connection_options", args=[draft.pk]),
            {"winner": "a", "sync_interval": "300", "avoid_duplicates": "on", "resume": "1"},
        )
    assert response["Location"] == reverse("integrations:connection_detail", args=[draft.pk])
    draft.refresh_from_db()
    assert draft.status == Connection.Status.SCANNING


def test_it_answers_404_for_another_workspaces_options(
    client_alice: Client, globex: Workspace
) -> None:
    theirs = ConnectionFactory(workspace=globex)
    url = reverse("integrations:connection_options", args=[theirs.pk])
    assert client_alice.post(url, {"winner": "b", "sync_interval": "300"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.winner == "a"


def test_it_forbids_a_member_to_add_a_rule(
    client: Client, acme: Workspace, draft: Connection
) -> None:
    carol = MembershipFactory(workspace=acme, role=Membership.Role.MEMBER).user
    client.force_login(carol)
    response = client.post(
        reverse("integrations:rule_new", args=[draft.pk]), rule_post(direction="a_to_b")
    )
    assert response.status_code == 403
    assert Rule.objects.filter(connection=draft).count() == 2


# -- Step 7: review --------------------------------------------------------------------------------


def test_it_says_why_a_preview_failed_without_an_error_page(
    client_alice: Client, draft: Connection
) -> None:
    failed = SyncRun.objects.create(
        connection=draft, dry_run=True, outcome=SyncRun.Outcome.FAILED,
        error="Kustomer: acme.kustomerapp.com could not be reached",
    )  # fmt: skip
    with mock.patch("integrations.services.connection_sync", return_value=failed):
        response = client_alice.post(
            reverse("integrations:connection_review", args=[draft.pk]), {"preview": "1"},
            follow=True,
        )  # fmt: skip
    assert response.status_code == 200
    assert "could not be reached" in response.content.decode()


def test_it_shows_the_previews_counts_and_sample(client_alice: Client, draft: Connection) -> None:
    SyncRun.objects.create(
        connection=draft,
        dry_run=True,
        outcome=SyncRun.Outcome.SUCCESS,
        plan={
            "phase": "scan",
            "counts": {"created_b": 4, "updated_b": 1, "created_a": 2, "excluded": 3},
            "a": {"create": [], "update": [], "tag": [], "untag": []},
            "b": {
                "create": [{"source_id": "c1", "values": {"emails": ["ann@acme.example"]}}],
                "update": [
                    {"id": "people/c2", "fields": {"company": {"before": "Old", "after": "New"}}}
                ],
                "tag": [],
                "untag": [],
            },
        },
    )
    page = client_alice.get(
        reverse("integrations:connection_review", args=[draft.pk])
    ).content.decode()
    assert "In Google Contacts" in page and "In Kustomer" in page
    assert ">4<" in page and ">2<" in page
    assert "ann@acme.example" in page
    assert "<td>people/c2</td><td>Company</td><td>Old</td><td>New</td>" in page
    assert "<td>Emails</td><td>ann@acme.example</td>" in page
    assert "Start syncing" in page


def test_it_changes_a_mappings_direction(client_alice: Client, draft: Connection) -> None:
    mapping = FieldMapping.objects.get(connection=draft, field_a="company")
    url = reverse("integrations:mapping_edit", args=[draft.pk, mapping.pk])
    assert client_alice.get(url).status_code == 200
    response = client_alice.post(url, {"direction": "a_to_b", "enabled": "on", "value_map": ""})
    assert response.status_code == 302, response.content.decode()
    mapping.refresh_from_db()
    assert (mapping.field_a, mapping.field_b, mapping.direction) == ("company", "company", "a_to_b")


def test_it_refuses_a_value_map_on_fields_that_are_no_dropdowns(
    client_alice: Client, draft: Connection
) -> None:
    mapping = FieldMapping.objects.get(connection=draft, field_a="company")
    response = client_alice.post(
        reverse("integrations:mapping_edit", args=[draft.pk, mapping.pk]),
        {"direction": "two_way", "enabled": "on", "value_map": "a = b"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["value_map"]
    mapping.refresh_from_db()
    assert mapping.value_map == {}


def test_it_shows_a_missing_direction_beside_the_field(
    client_alice: Client, kustomer: ConnectedAccount, google: ConnectedAccount
) -> None:
    response = client_alice.post(
        reverse("integrations:connection_new_direction"),
        {"account_a": kustomer.pk, "account_b": google.pk, "direction": "sideways"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["direction"]
    assert 'class="errorlist' in response.content.decode()
    assert not Connection.objects.exists()


def test_it_shows_a_wrong_winner_beside_the_field(client_alice: Client, draft: Connection) -> None:
    response = client_alice.post(
        reverse("integrations:connection_options", args=[draft.pk]),
        {"winner": "c", "sync_interval": "300"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["winner"]
    draft.refresh_from_db()
    assert draft.winner == "a"
