"""The ops admin: every page renders for staff only; configuration is validated by the shared
forms (nonsense is a form error, never a 500 or a silent save); actions need the change
permission; history is read-only."""

import html
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from accounts.models import ConnectedAccount, User, Workspace
from integrations.models import (
    Action,
    AuditEntry,
    Condition,
    Connection,
    CreateIntent,
    RecordIssue,
    RecordLink,
    Rule,
    SyncRun,
)
from integrations.services import setup
from tests.factories import ConnectedAccountFactory, ConnectionFactory, RecordLinkFactory
from tests.integrations.test_forms import (
    PLAN,
    SEATS,
    TIER,
    FakeConnector,
    UnreachableConnector,
    connect,
    loaded,
)

pytestmark = pytest.mark.django_db

MODELS = [
    (model._meta.app_label, model._meta.model_name)
    for model in admin.site._registry
    if model._meta.app_label in ("accounts", "integrations")
]

HISTORY = {
    "recordlink", "createintent", "syncrun", "recordissue", "recheckrecord", "auditentry",
    "runnote", "beattick", "webhooksubscription", "webhookwake", "webhookdelivery",
    "webhookcount", "webhookremoval",
}  # fmt: skip
# Added on their parent's page, where the parent's apps and fields are known (or, for
# invitations, from the team page that emails the token).
ADDED_ON_PARENT = {"condition", "action", "fieldmapping", "invitation"}


def pages(app_label: str, model_name: str) -> list[str]:
    return [
        reverse(f"admin:{app_label}_{model_name}_changelist"),
        reverse(f"admin:{app_label}_{model_name}_add"),
    ]


def test_it_registers_every_model() -> None:
    from django.apps import apps

    ours = {
        (m._meta.app_label, m._meta.model_name)
        for name in ("accounts", "integrations")
        for m in apps.get_app_config(name).get_models()
    }
    assert ours == set(MODELS)


@pytest.mark.parametrize(("app_label", "model_name"), MODELS)
def test_it_renders_changelist_and_add_pages_for_staff(
    client: Client, staff: User, app_label: str, model_name: str
) -> None:
    ConnectionFactory()
    client.force_login(staff)
    changelist, add = pages(app_label, model_name)
    assert client.get(changelist).status_code == 200
    # History is written by the sync loop only: its add page is forbidden even to staff.
    refused = model_name in HISTORY | ADDED_ON_PARENT
    assert client.get(add).status_code == (403 if refused else 200)


@pytest.mark.parametrize(("app_label", "model_name"), MODELS)
def test_it_refuses_admin_pages_to_non_staff(
    client: Client, alice: User, app_label: str, model_name: str
) -> None:
    client.force_login(alice)
    for url in pages(app_label, model_name):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("admin:login") in response["Location"]


def test_it_never_shows_credentials_on_the_account_page(client: Client, staff: User) -> None:
    account = ConnectedAccountFactory(
        app="kustomer",
        creds={"subdomain": "acme", "email": "ops@acme.example", "password": "pa55-word-xyz"},
    )
    client.force_login(staff)
    for url in (
        reverse("admin:accounts_connectedaccount_change", args=[account.pk]),
        reverse("admin:accounts_connectedaccount_changelist"),
    ):
        body = client.get(url).content.decode()
        assert "pa55-word-xyz" not in body
    assert "set (ops@acme.example)" in body


def test_it_replaces_credentials_from_the_write_only_form(client: Client, staff: User) -> None:
    account = ConnectedAccountFactory(
        app="kustomer", creds={"subdomain": "acme", "api_key": "old-key-123456"}
    )
    client.force_login(staff)
    url = reverse("admin:accounts_connectedaccount_change", args=[account.pk])
    response = client.post(
        url,
        {
            "workspace": account.workspace_id,
            "app": "kustomer",
            "label": account.label,
            "status": "ok",
            "last_error": "",
            "cred_kustomer__subdomain": "acme",
            "cred_kustomer__api_key": "new-key-654321",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.get_credentials()["api_key"] == "new-key-654321"


def test_it_keeps_credentials_when_the_form_leaves_them_empty(client: Client, staff: User) -> None:
    account = ConnectedAccountFactory(
        app="kustomer", creds={"subdomain": "acme", "api_key": "keep-me-123456"}
    )
    client.force_login(staff)
    url = reverse("admin:accounts_connectedaccount_change", args=[account.pk])
    client.post(
        url,
        {
            "workspace": account.workspace_id,
            "app": "kustomer",
            "label": "renamed",
            "status": "ok",
            "last_error": "",
        },
    )
    account.refresh_from_db()
    assert account.label == "renamed"
    assert account.get_credentials()["api_key"] == "keep-me-123456"


# -- Configuration through the validated forms ---------------------------------------------------


@pytest.fixture
def fake_apps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both apps answer with fixed fields (custom ones included), without HTTP."""
    monkeypatch.setattr("integrations.forms.fields.connector_for", FakeConnector)


def page_data(response: Any) -> dict[str, Any]:
    """What a browser would post back from an admin change page, untouched."""
    data: dict[str, Any] = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms += [formset.management_form, *formset.forms]
    for form in forms:
        for bound in form:
            if bound.field.disabled:
                continue
            _put(data, bound.html_name, bound.field.widget, bound.value())
    return data


def _put(data: dict[str, Any], name: str, widget: Any, value: Any) -> None:
    from django.forms import CheckboxInput, MultiWidget

    if isinstance(widget, CheckboxInput):
        if value:
            data[name] = "on"
    elif isinstance(widget, MultiWidget):
        parts = value if isinstance(value, list | tuple) else widget.decompress(value)
        for suffix, sub, part in zip(widget.widgets_names, widget.widgets, parts, strict=False):
            _put(data, name + suffix, sub, part)
    elif value is None:
        data[name] = ""
    elif isinstance(value, list | tuple):
        data[name] = [str(v) for v in value]
    else:
        data[name] = widget.format_value(value) if hasattr(widget, "format_value") else value
        if data[name] is None:
            data[name] = ""


def errors_shown(response: Any) -> str:
    body = response.content.decode()
    assert response.status_code == 200, body[:2000]
    assert 'class="errorlist' in body or "errornote" in body, body[:4000]
    return html.unescape(body)


def rule_page(client: Client, rule: Rule) -> tuple[str, dict[str, Any]]:
    url = reverse("admin:integrations_rule_change", args=[rule.pk])
    response = client.get(url)
    assert response.status_code == 200
    return url, page_data(response)


def with_condition(data: dict[str, Any], field: str, operator: str, value: str) -> dict[str, Any]:
    index = int(data["conditions-TOTAL_FORMS"]) - 1  # the blank extra form
    return data | {
        f"conditions-{index}-field": field,
        f"conditions-{index}-operator": operator,
        f"conditions-{index}-value": value,
    }


@pytest.fixture
def connection(acme: Workspace) -> Connection:
    return connect(acme)


@pytest.fixture
def rule(connection: Connection) -> Rule:
    return connection.rules.get(direction=Rule.Direction.A_TO_B)


@pytest.mark.parametrize(
    ("field", "operator", "value", "reason"),
    [
        ("no.such.field", "frobnicates", "'gold'", "Select a valid choice"),
        ("company", "frobnicates", "Acme", "Select a valid choice"),
        ("company", "lt", "5", "Company (text) cannot be tested with"),
        (SEATS.key, "gt", "NaN", "finite number"),
        (SEATS.key, "eq", "lots", "'lots' is not a number"),
        ("birthday", "lt", "2024-02-31", "is a date"),
        (TIER.key, "equals", "platinum", "gold, silver, bronze"),
    ],
)
@pytest.mark.usefixtures("fake_apps")
def test_it_refuses_a_nonsense_condition_on_the_rule_page(
    client: Client, staff: User, rule: Rule, field: str, operator: str, value: str, reason: str
) -> None:
    client.force_login(staff)
    url, data = rule_page(client, rule)
    response = client.post(url, with_condition(data, field, operator, value))
    assert reason in errors_shown(response)
    assert not rule.conditions.exists()


@pytest.mark.usefixtures("fake_apps")
def test_it_saves_a_typed_condition_on_the_rule_page(
    client: Client, staff: User, rule: Rule
) -> None:
    client.force_login(staff)
    url, data = rule_page(client, rule)
    response = client.post(url, with_condition(data, SEATS.key, "gt", "10"))
    assert response.status_code == 302, errors_shown(response)
    stored = rule.conditions.get()
    assert (stored.kind, stored.field, stored.operator, stored.value) == (
        "field",
        SEATS.key,
        "gt",
        10,
    )


@pytest.mark.usefixtures("fake_apps")
def test_it_refuses_a_tag_action_without_a_name(client: Client, staff: User, rule: Rule) -> None:
    client.force_login(staff)
    url, data = rule_page(client, rule)
    index = int(data["actions-TOTAL_FORMS"]) - 1
    response = client.post(url, data | {f"actions-{index}-kind": "add_tag"})
    assert "Name the label" in errors_shown(response)
    assert not rule.actions.exists()


@pytest.mark.usefixtures("fake_apps")
def test_it_refuses_a_rule_mirrored_to_itself(client: Client, staff: User, rule: Rule) -> None:
    client.force_login(staff)
    url, data = rule_page(client, rule)
    response = client.post(url, data | {"mirror": str(rule.pk)})
    assert "cannot be its own other way around" in errors_shown(response)
    rule.refresh_from_db()
    assert rule.mirror_id is None


@pytest.mark.usefixtures("fake_apps")
def test_it_refuses_a_mirror_of_the_same_direction(
    client: Client, staff: User, connection: Connection, rule: Rule
) -> None:
    same_way = setup.rule_create(
        connection=connection,
        direction=Rule.Direction.A_TO_B,
        conditions=[],
        actions=[],
        **loaded().service_kwargs(),
    )
    client.force_login(staff)
    url, data = rule_page(client, rule)
    response = client.post(url, data | {"mirror": str(same_way.pk)})
    assert "opposite direction" in errors_shown(response)
    rule.refresh_from_db()
    assert rule.mirror_id is None


@pytest.mark.usefixtures("fake_apps")
def test_it_refuses_a_mirror_of_another_connection(
    client: Client, staff: User, acme: Workspace, rule: Rule
) -> None:
    other = connect(acme).rules.get(direction=Rule.Direction.B_TO_A)
    client.force_login(staff)
    url, data = rule_page(client, rule)
    response = client.post(url, data | {"mirror": str(other.pk)})
    errors_shown(response)
    rule.refresh_from_db()
    assert rule.mirror_id is None


@pytest.mark.usefixtures("fake_apps")
def test_it_refuses_a_nonsense_value_on_the_condition_page(
    client: Client, staff: User, rule: Rule
) -> None:
    condition = Condition.objects.create(rule=rule, field=SEATS.key, operator="gt", value=5)
    client.force_login(staff)
    url = reverse("admin:integrations_condition_change", args=[condition.pk])
    data = page_data(client.get(url))
    assert data["value"] == "5"
    response = client.post(url, data | {"value": "NaN"})
    assert "finite number" in errors_shown(response)
    condition.refresh_from_db()
    assert condition.value == 5


@pytest.mark.usefixtures("fake_apps")
def test_it_refuses_setting_an_unknown_field_on_the_action_page(
    client: Client, staff: User, rule: Rule
) -> None:
    action = Action.objects.create(rule=rule, kind="set_field", field="company", value="Acme")
    client.force_login(staff)
    url = reverse("admin:integrations_action_change", args=[action.pk])
    data = page_data(client.get(url))
    response = client.post(url, data | {"field": "no.such.field"})
    errors_shown(response)
    action.refresh_from_db()
    assert action.field == "company"


def test_it_shows_the_rule_read_only_when_an_app_cannot_answer(
    client: Client, staff: User, rule: Rule, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("integrations.forms.fields.connector_for", UnreachableConnector)
    client.force_login(staff)
    response = client.get(reverse("admin:integrations_rule_change", args=[rule.pk]))
    assert response.status_code == 200
    assert "could not be reached" in html.unescape(response.content.decode())


@pytest.mark.usefixtures("fake_apps")
def test_it_keeps_the_other_way_around_in_step(
    client: Client, staff: User, connection: Connection
) -> None:
    rule = setup.rule_create(
        connection=connection,
        direction=Rule.Direction.A_TO_B,
        conditions=[],
        actions=[],
        mirror=True,
        **loaded().service_kwargs(),
    )
    client.force_login(staff)
    url, data = rule_page(client, rule)
    response = client.post(url, with_condition(data, "company", "contains", "Acme"))
    assert response.status_code == 302, errors_shown(response)
    mirror = Rule.objects.get(pk=rule.mirror_id)
    assert list(mirror.conditions.values_list("field", "operator", "value")) == [
        ("company", "contains", "Acme")
    ]


@pytest.mark.usefixtures("fake_apps")
def test_it_says_when_the_other_way_around_cannot_follow(
    client: Client, staff: User, connection: Connection
) -> None:
    rule = setup.rule_create(
        connection=connection,
        direction=Rule.Direction.A_TO_B,
        conditions=[],
        actions=[],
        mirror=True,
        **loaded().service_kwargs(),
    )
    client.force_login(staff)
    url, data = rule_page(client, rule)
    # Seats is not mapped to any Google Contacts field: the mirror has nothing to test.
    response = client.post(url, with_condition(data, SEATS.key, "gt", "3"), follow=True)
    assert response.status_code == 200
    assert "could not follow" in html.unescape(response.content.decode())
    assert not Rule.objects.get(pk=rule.mirror_id).conditions.exists()


@pytest.mark.usefixtures("fake_apps")
def test_it_keeps_the_other_way_around_in_step_from_the_condition_page(
    client: Client, staff: User, connection: Connection
) -> None:
    rule = setup.rule_create(
        connection=connection,
        direction=Rule.Direction.A_TO_B,
        conditions=[{"field": "company", "operator": "contains", "value": "Acme"}],
        actions=[],
        mirror=True,
        **loaded().service_kwargs(),
    )
    condition = rule.conditions.get()
    client.force_login(staff)
    url = reverse("admin:integrations_condition_change", args=[condition.pk])
    response = client.post(url, page_data(client.get(url)) | {"value": "Globex"})
    assert response.status_code == 302, errors_shown(response)
    assert Condition.objects.get(pk=condition.pk).value == "Globex"
    mirror = Rule.objects.get(pk=rule.mirror_id)
    assert list(mirror.conditions.values_list("value", flat=True)) == ["Globex"]


def test_it_adds_a_rule_after_the_others_of_its_direction(
    client: Client, staff: User, connection: Connection
) -> None:
    client.force_login(staff)
    url = reverse("admin:integrations_rule_add")
    assert (
        "Kustomer → Google Contacts"
        in client.get(f"{url}?connection={connection.pk}").content.decode()
    )
    response = client.post(url, {"connection": connection.pk, "direction": "a_to_b", "name": "VIP"})
    assert response.status_code == 302
    assert connection.rules.get(name="VIP").position == 1


def test_it_refuses_a_rule_for_a_direction_the_connection_does_not_sync(
    client: Client, staff: User, acme: Workspace
) -> None:
    one_way = connect(acme, direction=Connection.Direction.A_TO_B)
    client.force_login(staff)
    url = reverse("admin:integrations_rule_add")
    response = client.post(url, {"connection": one_way.pk, "direction": "b_to_a", "name": "back"})
    assert "does not sync this way" in errors_shown(response)
    assert not one_way.rules.filter(name="back").exists()


def connection_page(client: Client, connection: Connection) -> tuple[str, dict[str, Any]]:
    url = reverse("admin:integrations_connection_change", args=[connection.pk])
    response = client.get(url)
    assert response.status_code == 200
    return url, page_data(response)


def with_mapping(data: dict[str, Any], **values: str) -> dict[str, Any]:
    index = int(data["field_mappings-TOTAL_FORMS"])
    data = data | {"field_mappings-TOTAL_FORMS": str(index + 1)}
    row = {"direction": "two_way", "enabled": "on", "value_map": "", **values}
    return data | {f"field_mappings-{index}-{key}": value for key, value in row.items()}


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"field_a": TIER.key, "field_b": PLAN.key, "value_map": "[1,2]"}, "is not 'value ="),
        ({"field_a": SEATS.key, "field_b": "custom.nope"}, "Select a valid choice"),
        ({"field_a": SEATS.key, "field_b": PLAN.key}, "Seats (number)"),
        ({"field_a": SEATS.key, "field_b": PLAN.key}, "Plan (text)"),
    ],
)
@pytest.mark.usefixtures("fake_apps")
def test_it_refuses_a_nonsense_mapping_on_the_connection_page(
    client: Client, staff: User, connection: Connection, values: dict[str, str], reason: str
) -> None:
    before = connection.field_mappings.count()
    client.force_login(staff)
    url, data = connection_page(client, connection)
    response = client.post(url, with_mapping(data, **values))
    assert reason in errors_shown(response)
    assert connection.field_mappings.count() == before


@pytest.mark.usefixtures("fake_apps")
def test_it_adds_a_custom_mapping_with_a_value_map(
    client: Client, staff: User, connection: Connection
) -> None:
    client.force_login(staff)
    url, data = connection_page(client, connection)
    response = client.post(
        url,
        with_mapping(data, field_a=TIER.key, field_b=PLAN.key, value_map="gold = Gold\nsilver = S"),
    )
    assert response.status_code == 302, errors_shown(response)
    added = connection.field_mappings.get(field_a=TIER.key)
    assert (added.field_b, added.value_map) == (PLAN.key, {"gold": "Gold", "silver": "S"})


@pytest.mark.usefixtures("fake_apps")
def test_it_refuses_a_value_map_that_is_not_pairs_on_the_mapping_page(
    client: Client, staff: User, connection: Connection
) -> None:
    mapping = setup.field_mapping_add(
        connection=connection,
        field_a=TIER.key,
        field_b=PLAN.key,
        value_map={"gold": "Gold"},
        **{k: v for k, v in loaded().service_kwargs().items() if k.startswith("fields")},
    )
    client.force_login(staff)
    url = reverse("admin:integrations_fieldmapping_change", args=[mapping.pk])
    data = page_data(client.get(url))
    assert data["value_map"] == "gold = Gold"
    response = client.post(url, data | {"value_map": "[1,2]"})
    assert "is not 'value =" in errors_shown(response)
    mapping.refresh_from_db()
    assert mapping.value_map == {"gold": "Gold"}


@pytest.mark.usefixtures("fake_apps")
def test_it_toggles_a_default_mapping_off_on_its_page(
    client: Client, staff: User, connection: Connection
) -> None:
    default = connection.field_mappings.get(field_a="company")
    client.force_login(staff)
    url = reverse("admin:integrations_fieldmapping_change", args=[default.pk])
    data = page_data(client.get(url))
    data.pop("enabled")
    response = client.post(url, data)
    assert response.status_code == 302, errors_shown(response)
    default.refresh_from_db()
    assert default.enabled is False


@pytest.mark.usefixtures("fake_apps")
def test_it_keeps_the_status_and_checkpoints_out_of_hand_editing(
    client: Client, staff: User, connection: Connection
) -> None:
    Connection.objects.filter(pk=connection.pk).update(status=Connection.Status.PAUSED)
    client.force_login(staff)
    url, data = connection_page(client, connection)
    assert "status" not in data and "checkpoint_a" not in data
    response = client.post(
        url, data | {"status": "active", "checkpoint_a": '{"cursor": "2099-01-01"}'}
    )
    assert response.status_code == 302, errors_shown(response)
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PAUSED
    assert connection.checkpoint_a == {}


@pytest.mark.usefixtures("fake_apps")
def test_it_offers_no_option_one_app_lacks(
    client: Client, staff: User, connection: Connection
) -> None:
    client.force_login(staff)
    url, data = connection_page(client, connection)
    # Kustomer has no deletions: the checkbox is not there, and posting it changes nothing.
    assert "sync_deletions" not in client.get(url).content.decode()
    response = client.post(url, data | {"sync_deletions": "on"})
    assert response.status_code == 302, errors_shown(response)
    connection.refresh_from_db()
    assert connection.sync_deletions is False


@pytest.mark.usefixtures("fake_apps")
def test_it_refuses_an_option_one_app_lacks_for_a_new_connection(
    client: Client, staff: User, acme: Workspace
) -> None:
    kustomer = ConnectedAccountFactory(workspace=acme, app="kustomer")
    google = ConnectedAccountFactory(workspace=acme, app="google_contacts")
    client.force_login(staff)
    url = reverse("admin:integrations_connection_add")
    data = page_data(client.get(url)) | {
        "workspace": acme.pk,
        "account_a": kustomer.pk,
        "account_b": google.pk,
        "sync_deletions": "on",
    }
    assert "do not both support" in errors_shown(client.post(url, data))
    assert not Connection.objects.exists()


@pytest.mark.usefixtures("fake_apps")
def test_it_saves_the_options(client: Client, staff: User, connection: Connection) -> None:
    client.force_login(staff)
    url, data = connection_page(client, connection)
    response = client.post(url, data | {"winner": "b", "sync_interval": "900"})
    assert response.status_code == 302, errors_shown(response)
    connection.refresh_from_db()
    assert (connection.winner, connection.sync_interval) == ("b", 900)


# -- Permissions ----------------------------------------------------------------------------------


@pytest.fixture
def viewer(db: None) -> User:
    """Staff who may look at everything and change nothing."""
    user = User.objects.create_user(email="viewer@tandem.example", password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


@pytest.mark.parametrize("action", ["sync_now", "pause", "resume", "resync"])
def test_it_lets_view_only_staff_run_no_action(client: Client, viewer: User, action: str) -> None:
    connection = ConnectionFactory(status=Connection.Status.PAUSED)
    client.force_login(viewer)
    url = reverse("admin:integrations_connection_changelist")
    assert 'name="action"' not in client.get(url).content.decode()
    client.post(url, {"action": action, ACTION_CHECKBOX_NAME: [connection.pk]})
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PAUSED
    assert connection.next_sync_at is None


def test_it_lets_view_only_staff_verify_no_account(client: Client, viewer: User) -> None:
    account = ConnectedAccountFactory(app="kustomer", creds={"subdomain": "acme", "api_key": "k"})
    client.force_login(viewer)
    url = reverse("admin:accounts_connectedaccount_changelist")
    client.post(url, {"action": "verify_selected", ACTION_CHECKBOX_NAME: [account.pk]})
    account.refresh_from_db()
    assert account.last_verified_at is None


def test_it_lets_staff_with_change_permission_pause(client: Client, staff: User) -> None:
    connection = ConnectionFactory(status=Connection.Status.ACTIVE)
    client.force_login(staff)
    url = reverse("admin:integrations_connection_changelist")
    client.post(url, {"action": "pause", ACTION_CHECKBOX_NAME: [connection.pk]})
    connection.refresh_from_db()
    assert connection.status == Connection.Status.PAUSED


@pytest.mark.parametrize(
    "model_name", ["syncrun", "recordlink", "createintent", "recordissue", "auditentry"]
)
def test_it_refuses_deleting_history(client: Client, staff: User, model_name: str) -> None:
    connection = ConnectionFactory()
    run = SyncRun.objects.create(connection=connection)
    link = RecordLinkFactory(connection=connection)
    intent = CreateIntent.objects.create(connection=connection, target="b", source_id="a-1")
    issue = RecordIssue.objects.create(
        connection=connection, side="a", record_id="a-1", target="b", reason="rejected"
    )
    entry = AuditEntry.objects.create(
        run=run, connection=connection, side="b", record_id="b-1", kind="update", why="mapping"
    )
    obj = {
        "syncrun": run,
        "recordlink": link,
        "createintent": intent,
        "recordissue": issue,
        "auditentry": entry,
    }[model_name]
    client.force_login(staff)
    url = reverse(f"admin:integrations_{model_name}_delete", args=[obj.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    changelist = reverse(f"admin:integrations_{model_name}_changelist")
    client.post(changelist, {"action": "delete_selected", ACTION_CHECKBOX_NAME: [obj.pk]})
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_it_deletes_a_connection_with_its_history(client: Client, staff: User) -> None:
    connection = ConnectionFactory()
    SyncRun.objects.create(connection=connection)
    RecordLinkFactory(connection=connection)
    client.force_login(staff)
    url = reverse("admin:integrations_connection_delete", args=[connection.pk])
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Connection.objects.filter(pk=connection.pk).exists()
    assert not SyncRun.objects.exists() and not RecordLink.objects.exists()


# -- Errors as messages ---------------------------------------------------------------------------


def bad_subdomain_account(workspace: Workspace) -> ConnectedAccount:
    account = ConnectedAccountFactory(workspace=workspace, app="kustomer", label="broken")
    # As stored before subdomains were checked.
    ConnectedAccount.objects.filter(pk=account.pk).update(
        credentials='{"subdomain": "evil.example.com/x", "api_key": "secret-key-123"}'
    )
    return account


def test_it_shows_a_bad_subdomain_as_a_message_when_verifying(
    client: Client, staff: User, acme: Workspace
) -> None:
    account = bad_subdomain_account(acme)
    client.force_login(staff)
    url = reverse("admin:accounts_connectedaccount_changelist")
    response = client.post(
        url, {"action": "verify_selected", ACTION_CHECKBOX_NAME: [account.pk]}, follow=True
    )
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert "subdomain" in body and "secret-key-123" not in body


def test_it_refuses_adding_a_connection_its_apps_cannot_serve(
    client: Client, staff: User, acme: Workspace
) -> None:
    account = bad_subdomain_account(acme)
    google = ConnectedAccountFactory(workspace=acme, app="google_contacts")
    client.force_login(staff)
    url = reverse("admin:integrations_connection_add")
    data = page_data(client.get(url)) | {
        "workspace": acme.pk,
        "account_a": account.pk,
        "account_b": google.pk,
    }
    response = client.post(url, data)
    body = errors_shown(response)
    assert "subdomain" in body and "secret-key-123" not in body
    assert not Connection.objects.exists()


@pytest.mark.usefixtures("fake_apps")
def test_it_adds_a_connection_with_the_apps_default_mappings(
    client: Client, staff: User, acme: Workspace
) -> None:
    kustomer = ConnectedAccountFactory(workspace=acme, app="kustomer")
    google = ConnectedAccountFactory(workspace=acme, app="google_contacts")
    client.force_login(staff)
    url = reverse("admin:integrations_connection_add")
    data = page_data(client.get(url)) | {
        "workspace": acme.pk,
        "account_a": kustomer.pk,
        "account_b": google.pk,
        "sync_interval": "600",
    }
    response = client.post(url, data)
    assert response.status_code == 302, errors_shown(response)
    created = Connection.objects.get()
    assert created.status == Connection.Status.SCANNING
    assert created.sync_interval == 600
    assert created.field_mappings.filter(is_default=True).exists()


def test_it_refuses_changing_the_app_of_an_account_in_use(client: Client, staff: User) -> None:
    connection = ConnectionFactory(name="Support ⇄ Sales")
    account = connection.account_a
    client.force_login(staff)
    url = reverse("admin:accounts_connectedaccount_change", args=[account.pk])
    response = client.post(
        url,
        {
            "workspace": account.workspace_id,
            "app": "google_contacts",
            "label": account.label,
            "status": "ok",
            "last_error": "",
            "cred_google_contacts__refresh_token": "token-1234567890",
        },
    )
    assert "Support ⇄ Sales" in errors_shown(response)
    account.refresh_from_db()
    assert account.app == "kustomer"


def test_it_does_nothing_for_a_selection_holding_no_id(client: Client, staff: User) -> None:
    connection = ConnectionFactory(status=Connection.Status.ACTIVE)
    client.force_login(staff)
    url = reverse("admin:integrations_connection_changelist")

    response = client.post(
        url, {"action": "pause", ACTION_CHECKBOX_NAME: [connection.pk, "abc"]}, follow=True
    )

    connection.refresh_from_db()
    assert connection.status == Connection.Status.ACTIVE
    assert "no connection id: nothing was done" in response.content.decode()


def test_it_refuses_a_search_longer_than_the_database_takes(client: Client, staff: User) -> None:
    client.force_login(staff)
    url = reverse("admin:integrations_syncrun_changelist")

    response = client.get(url, {"q": "x" * 60_000}, follow=True)

    assert response.redirect_chain == [(url, 302)]
    assert "Search for at most 1000 characters." in response.content.decode()


def test_it_refuses_a_filter_holding_a_nul_character(client: Client, staff: User) -> None:
    client.force_login(staff)
    url = reverse("admin:integrations_connection_changelist")

    response = client.get(url, {"status__exact": "active\x00"}, follow=True)

    assert response.redirect_chain == [(url, 302)]
    assert "held a NUL character" in response.content.decode()


def test_it_offers_a_new_rule_for_a_connection_id_too_long_to_be_one(
    client: Client, staff: User
) -> None:
    client.force_login(staff)

    response = client.get(reverse("admin:integrations_rule_add"), {"connection": "9" * 5000})

    assert response.status_code == 200


def test_it_shows_the_connection_form_again_for_an_account_id_that_is_no_number(
    client: Client, staff: User
) -> None:
    client.force_login(staff)

    response = client.post(reverse("admin:integrations_connection_add"), {"account_a": "abc"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["account_a"]
    assert not Connection.objects.exists()


@pytest.mark.parametrize(
    "text",
    ['{"winner": ' + "9" * 5000 + "}", "[" * 100_000 + "]" * 100_000],
    ids=["an integer of 5,000 digits", "arrays nested 100,000 deep"],
)
def test_it_shows_the_connection_form_again_for_json_python_cannot_read(
    client: Client, staff: User, text: str
) -> None:
    client.force_login(staff)

    response = client.post(reverse("admin:integrations_connection_add"), {"choices": text})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["choices"] == ["Enter a valid JSON."]
    assert not Connection.objects.exists()
