"""The guided set-up end to end, through the pages, against a Kustomer org and a Google account on
the HTTP sandbox: choose the apps, pick the accounts, a direction, a rule, a custom mapping, the
options, a preview, then start syncing and see the contacts in sync."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ConnectedAccount, User
from integrations.models import Connection, FieldMapping, Rule
from sandbox.kustomer import ALL_ROLES, DEMO_METADATA
from tests.e2e.conftest import Pair, pair, person  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def management(prefix: str, total: int) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


@pytest.fixture
def browser(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def test_it_sets_up_a_connection_and_syncs(
    browser: Client,
    pair: Pair,  # noqa: F811 (the fixture imported above)
    django_capture_on_commit_callbacks: Any,
) -> None:
    pair.add_customer("Ann Archer", "ann@acme.example", company="Acme")
    pair.add_customer("Carl Cole", "carl@other.example", company="Other")
    pair.add_contact(person("Bea", "Baker", "bea@acme.example", custom={"loyalty tier": "gold"}))

    # 1. two apps
    response = browser.get(
        reverse("integrations:connection_new"), {"app_a": "kustomer", "app_b": "google_contacts"}
    )
    assert response.status_code == 302
    # 2. an account of each, chosen from the workspace's connected accounts
    page = browser.get(response["Location"]).content.decode()
    assert pair.account_a.label in page and pair.account_b.label in page
    response = browser.get(
        reverse("integrations:connection_new_accounts"),
        {"app_a": "kustomer", "app_b": "google_contacts", "account_a": pair.account_a.pk,
         "account_b": pair.account_b.pk},
    )  # fmt: skip
    assert response.status_code == 302
    # 3. direction: the draft is stored
    response = browser.post(
        reverse("integrations:connection_new_direction"),
        {"account_a": pair.account_a.pk, "account_b": pair.account_b.pk, "direction": "two_way"},
    )
    assert response.status_code == 302, response.content.decode()
    connection = Connection.objects.get(workspace=pair.workspace)
    assert connection.status == Connection.Status.DRAFT

    # 4. from Kustomer only customers of Acme, labelled in Google
    everyone = Rule.objects.get(connection=connection, direction="a_to_b")
    browser.post(reverse("integrations:rule_delete", args=[connection.pk, everyone.pk]))
    response = browser.post(
        reverse("integrations:rule_new", args=[connection.pk]),
        {**management("conditions", 1), **management("actions", 1), "direction": "a_to_b",
         "conditions-0-field": "company", "conditions-0-operator": "contains",
         "conditions-0-value": "Acme", "actions-0-kind": "add_tag",
         "actions-0-value": "From Kustomer"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()

    # 5. a custom mapping between custom fields, with a value map for the dropdown
    response = browser.post(
        reverse("integrations:connection_mappings", args=[connection.pk]),
        {"field_a": "custom.loyaltyTierStr", "field_b": "custom.loyalty tier",
         "direction": "two_way", "enabled": "on",
         "value_map": "bronze = bronze\nsilver = silver\ngold = gold"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()
    assert FieldMapping.objects.filter(connection=connection, is_default=False).count() == 1

    # 6. options: no deletions box, Kustomer wins
    page = browser.get(reverse("integrations:connection_options", args=[connection.pk]))
    assert "sync_deletions" not in page.content.decode()
    response = browser.post(
        reverse("integrations:connection_options", args=[connection.pk]),
        {"winner": "a", "avoid_duplicates": "on", "sync_interval": "300"},
    )
    assert response["Location"] == reverse("integrations:connection_review", args=[connection.pk])

    # 7. review: the preview counts per side, nothing written
    browser.post(reverse("integrations:connection_review", args=[connection.pk]), {"preview": "1"})
    review = browser.get(reverse("integrations:connection_review", args=[connection.pk]))
    preview = review.context["preview"]
    kustomer, google = preview["sides"]
    assert (kustomer["name"], kustomer["created"]) == ("Kustomer", 1)
    assert (google["name"], google["created"]) == ("Google Contacts", 1)
    assert preview["excluded"] == 1
    assert "ann@acme.example" in review.content.decode()
    assert len(pair.contacts()) == 1

    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            reverse("integrations:connection_review", args=[connection.pk]), {"start": "1"}
        )
    assert response["Location"] == reverse("integrations:connection_detail", args=[connection.pk])

    page = browser.get(response["Location"]).content.decode()
    assert "Active and listening for changes" in page
    assert '<div class="stat">2</div>contacts in sync' in page
    assert pair.labels(pair.contact_by_email("ann@acme.example")) == {"From Kustomer"}
    assert pair.customer_by_email("bea@acme.example")["custom"]["loyaltyTierStr"] == "gold"
    with pytest.raises(ValueError):
        pair.contact_by_email("carl@other.example")


def test_it_comes_back_to_the_set_up_after_authorizing_a_new_account(
    browser: Client,
    pair: Pair,  # noqa: F811
) -> None:
    subdomain, api_key = f"{pair.subdomain}x", "key-second-org"
    pair.kustomer.create_org(subdomain, api_keys={api_key: ALL_ROLES}, metadata=DEMO_METADATA)
    query = {"app_a": "kustomer", "app_b": "google_contacts"}
    step = browser.get(reverse("integrations:connection_new_accounts"), query)
    authorize = step.context["sides"][0]["authorize_url"]
    response = browser.post(authorize, {"subdomain": subdomain, "api_key": api_key})
    assert response.status_code == 302, response.content.decode()
    assert response["Location"] == step.wsgi_request.get_full_path()
    back = browser.get(response["Location"])
    new_account = ConnectedAccount.objects.get(workspace=pair.workspace, label__contains=subdomain)
    assert back.context["form"]["account_a"].value() == new_account.pk
    assert f"{subdomain}.kustomerapp.com" in back.content.decode()


def test_it_says_needs_attention_when_a_run_fails(
    browser: Client,
    pair: Pair,  # noqa: F811
) -> None:
    connection = pair.connect()
    pair.kustomer.set_faults(count=100, status=503)
    run = pair.sync(connection)
    assert run.outcome == "failed"
    page = browser.get(reverse("integrations:connection_detail", args=[connection.pk]))
    text = page.content.decode()
    assert "Needs attention" in text
    assert "Active and listening" not in text
