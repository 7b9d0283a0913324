# ruff: noqa: F811  (the e2e "pair" fixture is imported, then asked for by name)
"""The configuration forms: typed, validated by the engine's own rules against both apps' real
fields, and saved through the set-up services (or refused with the reason, storing nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import ConnectedAccount, Workspace
from integrations.connectors.base import ConnectorError
from integrations.connectors.google_contacts.connector import (
    STANDARD_FIELDS as GOOGLE_STANDARD,
)
from integrations.connectors.kustomer.mappers import STANDARD_FIELDS as KUSTOMER_STANDARD
from integrations.connectors.registry import connector_class
from integrations.forms import (
    ActionForm,
    ConditionForm,
    ConnectionFields,
    ConnectionForm,
    ConnectionOptionsForm,
    FieldMappingForm,
    FieldMappingToggleForm,
    FieldsUnavailable,
    RuleForm,
    parse_value_map,
)
from integrations.models import Condition, Connection, FieldMapping, Rule
from integrations.services import setup
from integrations.sync.fields import FieldSpec, FieldType
from tests.e2e.conftest import pair  # noqa: F401  (the real apps on the sandbox)
from tests.factories import ConnectedAccountFactory

pytestmark = pytest.mark.django_db

TIER = FieldSpec(
    "custom.tierStr", "Tier", FieldType.ENUM, choices=("gold", "silver", "bronze"), custom=True
)
SEATS = FieldSpec("custom.seatsNum", "Seats", FieldType.NUMBER, custom=True)
RENEWAL = FieldSpec("custom.renewalAt", "Renewal", FieldType.DATETIME, custom=True)
VIP = FieldSpec("custom.vipBool", "VIP", FieldType.BOOLEAN, custom=True)
PLAN = FieldSpec("custom.Plan", "Plan", FieldType.TEXT, custom=True)

FIELDS: dict[str, list[FieldSpec]] = {
    "kustomer": [*KUSTOMER_STANDARD, TIER, SEATS, RENEWAL, VIP],
    "google_contacts": [*GOOGLE_STANDARD, PLAN],
}


class FakeConnector:
    """What ``connector_for`` gives, without HTTP: the app's real capabilities, fixed fields."""

    def __init__(self, account: ConnectedAccount, **_: Any) -> None:
        self.capabilities = connector_class(account.app).capabilities
        self.app = account.app

    def fields(self) -> list[FieldSpec]:
        return list(FIELDS[self.app])


class UnreachableConnector(FakeConnector):
    def fields(self) -> list[FieldSpec]:
        raise ConnectorError("Kustomer: acme.kustomerapp.com could not be reached.")


def text(form: Any, field: str = "__all__") -> str:
    """A form's errors for ``field`` as plain text."""
    return " ".join(form.errors.get(field, []))


def loaded() -> ConnectionFields:
    return ConnectionFields.build(
        app_a="Kustomer",
        fields_a=FIELDS["kustomer"],
        capabilities_a=connector_class("kustomer").capabilities,
        app_b="Google Contacts",
        fields_b=FIELDS["google_contacts"],
        capabilities_b=connector_class("google_contacts").capabilities,
    )


def connect(workspace: Workspace, **options: Any) -> Connection:
    """Kustomer ⇄ Google Contacts with the default mappings and rules, through the service."""
    return setup.connection_create(
        workspace=workspace,
        account_a=ConnectedAccountFactory(workspace=workspace, app="kustomer"),
        account_b=ConnectedAccountFactory(workspace=workspace, app="google_contacts"),
        **loaded().service_kwargs(),
        **options,
    )


@pytest.fixture
def connection(acme: Workspace) -> Connection:
    return connect(acme)


def condition(field: str, operator: str = "", value: str = "") -> ConditionForm:
    form = ConditionForm(
        {"field": field, "operator": operator, "value": value},
        fields=loaded(),
        direction=Rule.Direction.A_TO_B,
    )
    form.is_valid()
    return form


# -- Conditions -----------------------------------------------------------------------------------


def test_it_refuses_a_condition_on_an_unknown_field() -> None:
    form = condition("no.such.field", "frobnicates", "'gold'")
    assert "field" in form.errors


def test_it_refuses_an_unknown_operator() -> None:
    form = condition("company", "frobnicates", "Acme")
    assert "operator" in form.errors


def test_it_refuses_an_operator_the_fields_type_does_not_take() -> None:
    form = condition("company", "lt", "5")
    assert "Company (text) cannot be tested with 'is less than / before'" in text(form, "operator")


def test_it_refuses_a_stored_field_the_app_no_longer_offers(connection: Connection) -> None:
    rule = connection.rules.get(direction=Rule.Direction.A_TO_B)
    gone = Condition.objects.create(rule=rule, field="custom.goneStr", operator="equals", value="x")
    form = ConditionForm(
        {"field": "custom.goneStr", "operator": "equals", "value": "x"},
        instance=gone,
        fields=loaded(),
        direction=Rule.Direction.A_TO_B,
    )
    assert "no longer offers the field" in text(form, "field")


def test_it_asks_for_an_operator() -> None:
    assert "Choose how to test Company" in text(condition("company", "", "Acme"), "operator")


def test_it_refuses_nan_for_a_number() -> None:
    form = condition(SEATS.key, "gt", "NaN")
    assert "finite number" in text(form, "value")


def test_it_refuses_infinity_for_a_number() -> None:
    assert "value" in condition(SEATS.key, "gt", "inf").errors


def test_it_refuses_text_for_a_number() -> None:
    form = condition(SEATS.key, "eq", "lots")
    assert "'lots' is not a number" in text(form, "value")


def test_it_refuses_a_bad_date() -> None:
    form = condition("birthday", "lt", "2024-13-45")
    assert "is not one" in text(form, "value")


def test_it_refuses_a_dropdown_value_that_is_not_a_choice() -> None:
    form = condition(TIER.key, "equals", "platinum")
    assert "gold, silver, bronze" in text(form, "value")


def test_it_types_a_number_value() -> None:
    form = condition(SEATS.key, "gt", "10")
    assert form.is_valid(), form.errors
    assert form.condition == {
        "kind": "field",
        "field": SEATS.key,
        "operator": "gt",
        "value": 10,
    }


def test_it_takes_a_dropdown_choice_whatever_its_case() -> None:
    form = condition(TIER.key, "equals", "GOLD")
    assert form.is_valid(), form.errors
    assert form.condition is not None and form.condition["value"] == "gold"


def test_it_types_a_date_and_time_in_utc() -> None:
    form = condition(RENEWAL.key, "gt", "2025-01-31 10:00")
    assert form.is_valid(), form.errors
    assert form.condition is not None and form.condition["value"] == "2025-01-31T10:00:00+00:00"


def test_it_types_between_as_two_values_low_first() -> None:
    form = condition(SEATS.key, "between", "5 and 50")
    assert form.is_valid(), form.errors
    assert form.condition is not None and form.condition["value"] == [5, 50]
    assert "value" in condition(SEATS.key, "between", "50 and 5").errors


def test_it_needs_no_value_for_is_empty() -> None:
    form = condition("company", "is_empty", "")
    assert form.is_valid(), form.errors
    assert form.condition is not None and form.condition["value"] is None


def test_it_offers_the_apps_special_conditions() -> None:
    form = condition("kustomer.sentiment", "is", "Negative")
    assert form.is_valid(), form.errors
    assert form.condition == {
        "kind": "special",
        "field": "kustomer.sentiment",
        "operator": "is",
        "value": "negative",
    }
    assert "value" in condition("kustomer.sentiment", "is", "furious").errors


def test_it_offers_already_existing_in_the_other_app() -> None:
    form = condition("exists_in_other")
    assert form.is_valid(), form.errors
    assert form.condition is not None and form.condition["kind"] == "exists_in_other"
    assert "Already exists in Google Contacts" in form.as_p()


def test_it_names_the_side_by_its_app() -> None:
    html = ConditionForm(fields=loaded(), direction=Rule.Direction.B_TO_A).as_p()
    assert "Google Contacts field" in html
    assert "Labels" in html  # Google's own field, as the source of a B → A rule
    assert "Side A" not in html and "Side B" not in html


def test_it_offers_only_the_chosen_fields_operators() -> None:
    form = ConditionForm(
        {"field": SEATS.key, "operator": "", "value": ""},
        fields=loaded(),
        direction=Rule.Direction.A_TO_B,
    )
    offered = [key for key, _ in form.fields["operator"].widget.choices]
    assert offered == ["", "eq", "lt", "gt", "between", "is_empty", "is_not_empty"]


def test_it_suggests_the_accounts_labels_for_has_label() -> None:
    fields = loaded()
    google = fields.b.__class__(
        fields.b.side, fields.b.app, fields.b.specs, fields.b.capabilities, ("Customers", "VIP")
    )
    form = ConditionForm(
        {"field": "google_contacts.has_label", "operator": "is", "value": "VIP"},
        fields=ConnectionFields(a=fields.a, b=google),
        direction=Rule.Direction.B_TO_A,
    )
    assert form.is_valid(), form.errors
    html = str(form["value"])
    assert "<datalist" in html and '<option value="VIP">' in html


def test_it_suggests_a_dropdowns_choices() -> None:
    form = condition(TIER.key, "equals", "silverish")
    assert '<option value="bronze">' in str(form["value"])


# -- Actions --------------------------------------------------------------------------------------


def action(kind: str, field: str = "", value: str = "", **options: Any) -> ActionForm:
    form = ActionForm(
        {"kind": kind, "field": field, "value": value},
        fields=options.get("fields") or loaded(),
        direction=options.get("direction", Rule.Direction.B_TO_A),
    )
    form.is_valid()
    return form


def test_it_sets_a_typed_value_on_the_receiving_app() -> None:
    form = action("set_field", SEATS.key, "12")
    assert form.is_valid(), form.errors
    assert form.action == {"kind": "set_field", "field": SEATS.key, "value": 12}


def test_it_refuses_setting_a_field_the_receiving_app_lacks() -> None:
    assert "field" in action("set_field", "no.such.field", "x").errors


def test_it_refuses_text_for_a_number_action() -> None:
    assert "value" in action("set_field", SEATS.key, "twelve").errors


def test_it_refuses_a_tag_action_for_an_app_without_tags() -> None:
    fields = loaded()
    no_tags = ConnectionFields(
        a=fields.a,
        b=fields.b.__class__(
            fields.b.side,
            fields.b.app,
            fields.b.specs,
            connector_class("google_contacts").capabilities.__class__(
                name_style=fields.b.capabilities.name_style, supports_tags=False
            ),
        ),
    )
    form = action("add_tag", value="VIP", fields=no_tags, direction=Rule.Direction.A_TO_B)
    assert "kind" in form.errors


def test_it_names_a_label_for_google() -> None:
    html = ActionForm(fields=loaded(), direction=Rule.Direction.A_TO_B).as_p()
    assert "Add a label in Google Contacts" in html


# -- Rules ----------------------------------------------------------------------------------------


def rule_data(
    conditions: list[tuple[str, str, str]],
    actions: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    **extra: str,
) -> dict[str, str]:
    data = {
        "conditions-TOTAL_FORMS": str(len(conditions)),
        "conditions-INITIAL_FORMS": "0",
        "actions-TOTAL_FORMS": str(len(actions)),
        "actions-INITIAL_FORMS": "0",
        **extra,
    }
    for i, (field, operator, value) in enumerate(conditions):
        data |= {
            f"conditions-{i}-field": field,
            f"conditions-{i}-operator": operator,
            f"conditions-{i}-value": value,
        }
    for i, (kind, field, value) in enumerate(actions):
        data |= {
            f"actions-{i}-kind": kind,
            f"actions-{i}-field": field,
            f"actions-{i}-value": value,
        }
    return data


def test_it_creates_a_rule_with_typed_conditions_and_actions(connection: Connection) -> None:
    form = RuleForm(
        rule_data([(TIER.key, "equals", "Gold")], [("add_tag", "", "VIP")], name="Gold"),
        fields=loaded(),
        connection=connection,
        direction=Rule.Direction.A_TO_B,
    )
    assert form.is_valid(), (form.errors, form.conditions.errors, form.actions.errors)
    rule = form.save()
    assert rule.name == "Gold"
    assert list(rule.conditions.values_list("field", "operator", "value")) == [
        (TIER.key, "equals", "gold")
    ]
    assert list(rule.actions.values_list("kind", "value")) == [("add_tag", "VIP")]


def test_it_stores_nothing_for_a_rule_with_a_bad_condition(connection: Connection) -> None:
    before = Rule.objects.count()
    form = RuleForm(
        rule_data([("no.such.field", "frobnicates", "'gold'")]),
        fields=loaded(),
        connection=connection,
        direction=Rule.Direction.A_TO_B,
    )
    assert not form.is_valid()
    assert form.conditions.errors[0]
    assert Rule.objects.count() == before


def test_it_refuses_a_mirror_without_a_mapped_counterpart(connection: Connection) -> None:
    form = RuleForm(
        rule_data([(SEATS.key, "gt", "5")], mirror="on"),
        fields=loaded(),
        connection=connection,
        direction=Rule.Direction.A_TO_B,
    )
    assert not form.is_valid()
    assert "map one first" in text(form)


def test_it_edits_a_rule_and_keeps_its_mirror_in_step(connection: Connection) -> None:
    created = RuleForm(
        rule_data([("company", "contains", "Acme")], mirror="on"),
        fields=loaded(),
        connection=connection,
        direction=Rule.Direction.A_TO_B,
    )
    assert created.is_valid(), created.errors
    rule = created.save()
    assert rule.mirror is not None
    edit = RuleForm(
        rule_data([("company", "contains", "Globex")], mirror="on", undo="on"),
        fields=loaded(),
        connection=connection,
        instance=rule,
    )
    assert edit.is_valid(), (edit.errors, edit.conditions.errors)
    edit.save()
    mirror = Rule.objects.get(pk=rule.mirror.pk)
    assert list(mirror.conditions.values_list("field", "value")) == [("company", "Globex")]
    assert mirror.undo is True


def test_it_drops_the_all_contacts_name_once_a_rule_has_conditions(
    connection: Connection,
) -> None:
    rule = connection.rules.get(direction=Rule.Direction.A_TO_B, name="All contacts")
    edit = RuleForm(
        rule_data([("company", "contains", "Acme")], name="All contacts"),
        fields=loaded(),
        connection=connection,
        instance=rule,
    )
    assert edit.is_valid(), (edit.errors, edit.conditions.errors)
    edit.save()
    rule.refresh_from_db()
    assert rule.name == ""


def test_it_deletes_the_mirror_when_the_toggle_goes_off(connection: Connection) -> None:
    form = RuleForm(
        rule_data([("company", "contains", "Acme")], mirror="on"),
        fields=loaded(),
        connection=connection,
        direction=Rule.Direction.A_TO_B,
    )
    assert form.is_valid()
    rule = form.save()
    mirror_pk = rule.mirror_id
    edit = RuleForm(
        rule_data([("company", "contains", "Acme")]),
        fields=loaded(),
        connection=connection,
        instance=rule,
    )
    assert edit.is_valid(), edit.errors
    edit.save()
    assert not Rule.objects.filter(pk=mirror_pk).exists()


def test_it_shows_an_existing_rules_values_as_text(connection: Connection) -> None:
    rule = setup.rule_create(
        connection=connection,
        direction=Rule.Direction.A_TO_B,
        conditions=[{"field": SEATS.key, "operator": "between", "value": [5, 50]}],
        actions=[],
        **loaded().service_kwargs(),
    )
    form = RuleForm(fields=loaded(), connection=connection, instance=rule)
    assert form.conditions.forms[0].initial["value"] == "5 and 50"


def test_it_offers_no_mirror_on_a_one_way_connection(acme: Workspace) -> None:
    one_way = connect(acme, direction=Connection.Direction.A_TO_B)
    form = RuleForm(fields=loaded(), connection=one_way, direction=Rule.Direction.A_TO_B)
    assert "mirror" not in form.fields


# -- Field mappings -------------------------------------------------------------------------------


def mapping(connection: Connection, **data: str) -> FieldMappingForm:
    form = FieldMappingForm(
        {"direction": "two_way", "enabled": "on", "value_map": "", **data},
        fields=loaded(),
        connection=connection,
    )
    form.is_valid()
    return form


def test_it_adds_a_custom_mapping(connection: Connection) -> None:
    form = mapping(connection, field_a=SEATS.key, field_b=PLAN.key, direction="a_to_b")
    assert form.is_valid(), form.errors
    saved = form.save()
    assert (saved.field_a, saved.field_b, saved.direction) == (SEATS.key, PLAN.key, "a_to_b")


def test_it_refuses_a_mapping_to_a_field_that_does_not_exist(connection: Connection) -> None:
    form = mapping(connection, field_a=SEATS.key, field_b="custom.nope")
    assert "field_b" in form.errors
    assert not FieldMapping.objects.filter(field_a=SEATS.key).exists()


def test_it_refuses_incompatible_types_naming_both(connection: Connection) -> None:
    form = mapping(connection, field_a=SEATS.key, field_b=PLAN.key, direction="two_way")
    message = text(form)
    assert "Seats (number)" in message and "Plan (text)" in message
    assert not FieldMapping.objects.filter(field_a=SEATS.key).exists()


def test_it_refuses_a_value_map_that_is_not_lines_of_pairs(connection: Connection) -> None:
    form = mapping(connection, field_a=TIER.key, field_b=PLAN.key, value_map="[1,2]")
    assert "is not 'value = other value'" in text(form, "value_map")


def test_it_refuses_a_value_map_naming_a_missing_choice(connection: Connection) -> None:
    form = mapping(connection, field_a=TIER.key, field_b=PLAN.key, value_map="platinum = P")
    assert "gold, silver, bronze" in text(form, "value_map")


def test_it_saves_a_value_map_from_readable_lines(connection: Connection) -> None:
    form = mapping(
        connection, field_a=TIER.key, field_b=PLAN.key, value_map="Gold = Premium\nsilver -> Basic"
    )
    assert form.is_valid(), form.errors
    assert form.save().value_map == {"gold": "Premium", "silver": "Basic"}


def test_it_refuses_a_two_way_value_map_that_cannot_go_back(connection: Connection) -> None:
    form = mapping(
        connection, field_a=TIER.key, field_b=PLAN.key, value_map="gold = Paid\nsilver = Paid"
    )
    assert "ambiguous" in text(form, "value_map")


def test_it_parses_value_maps() -> None:
    assert parse_value_map("a = b\n\n c => d ") == {"a": "b", "c": "d"}


def test_it_toggles_a_default_mapping_off(connection: Connection) -> None:
    default = FieldMapping.objects.get(connection=connection, field_a="company")
    form = FieldMappingToggleForm({}, fields=loaded(), instance=default)
    assert form.is_valid(), form.errors
    assert form.save().enabled is False


def test_it_changes_an_existing_mapping_but_not_its_fields(connection: Connection) -> None:
    default = FieldMapping.objects.get(connection=connection, field_a="company")
    form = FieldMappingForm(
        {"field_a": "phones", "field_b": "phones", "direction": "a_to_b", "value_map": ""},
        fields=loaded(),
        connection=connection,
        instance=default,
    )
    assert form.is_valid(), form.errors
    saved = form.save()
    assert (saved.field_a, saved.direction, saved.enabled) == ("company", "a_to_b", False)


# -- Connections ----------------------------------------------------------------------------------


def test_it_saves_the_options(connection: Connection) -> None:
    form = ConnectionOptionsForm(
        {"winner": "b", "sync_interval": "900"}, instance=connection, fields=loaded()
    )
    assert form.is_valid(), form.errors
    form.save()
    connection.refresh_from_db()
    assert (connection.winner, connection.avoid_duplicates, connection.sync_interval) == (
        "b",
        False,
        900,
    )


def test_it_offers_no_option_an_app_lacks(connection: Connection) -> None:
    form = ConnectionOptionsForm(instance=connection, fields=loaded())
    # Kustomer has no deletions or unsubscribes: the checkboxes are not there at all.
    assert "sync_deletions" not in form.fields
    assert "sync_unsubscribes" not in form.fields
    assert "Google Contacts" in form.as_p()


def test_it_refuses_an_interval_it_does_not_offer(connection: Connection) -> None:
    form = ConnectionOptionsForm(
        {"winner": "a", "sync_interval": "5"}, instance=connection, fields=loaded()
    )
    assert "sync_interval" in form.errors


def test_it_creates_a_connection_named_by_its_apps(
    acme: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("integrations.forms.fields.connector_for", FakeConnector)
    kustomer = ConnectedAccountFactory(workspace=acme, app="kustomer")
    google = ConnectedAccountFactory(workspace=acme, app="google_contacts")
    form = ConnectionForm(
        {"direction": "b_to_a"}, workspace=acme, account_a=kustomer, account_b=google
    )
    assert "One-way: Google Contacts → Kustomer" in form.as_p()
    assert form.is_valid(), form.errors
    created = form.save()
    assert created.direction == "b_to_a"
    assert list(created.rules.values_list("direction", flat=True)) == ["b_to_a"]


def test_it_shows_an_app_that_cannot_answer_as_a_form_error(
    acme: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("integrations.forms.fields.connector_for", UnreachableConnector)
    form = ConnectionForm(
        {
            "account_a": ConnectedAccountFactory(workspace=acme, app="kustomer").pk,
            "account_b": ConnectedAccountFactory(workspace=acme, app="google_contacts").pk,
            "direction": "two_way",
        },
        workspace=acme,
    )
    assert not form.is_valid()
    assert "could not be reached" in text(form)
    assert not Connection.objects.exists()


def test_it_refuses_another_workspaces_account(acme: Workspace, globex: Workspace) -> None:
    form = ConnectionForm(
        {
            "account_a": ConnectedAccountFactory(workspace=acme, app="kustomer").pk,
            "account_b": ConnectedAccountFactory(workspace=globex, app="google_contacts").pk,
            "direction": "two_way",
        },
        workspace=acme,
    )
    assert "account_b" in form.errors


def test_it_turns_a_bad_stored_subdomain_into_a_readable_error(acme: Workspace) -> None:
    account = ConnectedAccountFactory(workspace=acme, app="kustomer")
    ConnectedAccount.objects.filter(pk=account.pk).update(
        credentials='{"subdomain": "evil.example.com/x", "api_key": "k"}'
    )
    account.refresh_from_db()
    google = ConnectedAccountFactory(workspace=acme, app="google_contacts")
    with pytest.raises(FieldsUnavailable, match=r"Kustomer .*subdomain"):
        ConnectionFields.load_accounts(account, google)


# -- With the real apps (sandbox over HTTP) -------------------------------------------------------


def test_it_loads_both_apps_real_fields(pair: Any) -> None:
    connection = pair.connect()
    fields = ConnectionFields.load(connection)
    assert fields.a.app == "Kustomer" and fields.b.app == "Google Contacts"
    assert any(spec.custom for spec in fields.a.field_list)
    form = ConditionForm(fields=fields, direction=Rule.Direction.A_TO_B)
    assert "Kustomer custom fields" in form.as_p()


def test_it_saves_a_condition_on_a_real_custom_field(pair: Any) -> None:
    connection = pair.connect()
    fields = ConnectionFields.load(connection)
    custom = next(s for s in fields.a.field_list if s.custom and s.type == FieldType.NUMBER)
    form = RuleForm(
        rule_data([(custom.key, "gt", "3")]),
        fields=fields,
        connection=connection,
        direction=Rule.Direction.A_TO_B,
    )
    assert form.is_valid(), (form.errors, form.conditions.errors)
    rule = form.save()
    stored = Condition.objects.get(rule=rule)
    assert (stored.field, stored.value) == (custom.key, 3)


def test_it_loads_the_google_accounts_labels_as_suggestions(pair: Any) -> None:
    pair.google.add_group(pair.google_email, "Customers")
    fields = ConnectionFields.load(pair.connect())
    assert "Customers" in fields.b.tag_names
    assert fields.a.tag_names == ()
