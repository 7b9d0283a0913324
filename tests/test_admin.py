"""Every admin changelist and add page renders for staff and is refused to everybody else."""

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.factories import ConnectedAccountFactory, ConnectionFactory

pytestmark = pytest.mark.django_db

MODELS = [
    (model._meta.app_label, model._meta.model_name)
    for model in admin.site._registry
    if model._meta.app_label in ("accounts", "integrations")
]

HISTORY = {"recordlink", "createintent", "syncrun", "recordissue", "auditentry"}
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
