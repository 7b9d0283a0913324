"""The apps pages: one page per supported app from what its connector declares, and the pipeline
of apps not supported yet with votes and requests."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from integrations.catalog import app_info, default_mapping_between, standard_fields
from integrations.models import AppRequest, AppVote

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_alice(client: Client, alice: User) -> Client:
    client.force_login(alice)
    return client


def test_it_lists_the_supported_apps_and_the_pipeline_to_a_visitor(client: Client) -> None:
    response = client.get(reverse("integrations:apps"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Kustomer" in page and "Google Contacts" in page
    for name in ("HubSpot", "Mailchimp", "Salesforce", "Pipedrive", "Intercom", "Zendesk"):
        assert name in page
    assert "Log in to vote" in page


def test_it_describes_kustomer_from_what_its_connector_declares(client: Client) -> None:
    page = client.get(reverse("integrations:app_detail", args=["kustomer"])).content.decode()
    assert "Subdomain" in page and "API key" in page
    assert "Sentiment" in page and "Open conversations" in page
    assert "Add a tag" in page
    assert "Deletions: not supported" in page
    assert "Pairs with" in page and "Google Contacts" in page


def test_it_describes_google_contacts_as_a_sign_in_without_asking_for_tokens(
    client: Client,
) -> None:
    page = client.get(reverse("integrations:app_detail", args=["google_contacts"])).content.decode()
    assert "OAuth 2.0" in page
    assert "Refresh token" not in page
    assert "Has label" in page and "Add a label" in page
    assert "Deletions: supported" in page


def test_it_shows_the_default_mapping_with_each_partner(client: Client) -> None:
    page = client.get(reverse("integrations:app_detail", args=["kustomer"])).content.decode()
    pairs = default_mapping_between(app_info("kustomer"), app_info("google_contacts"))
    assert ("Name", "Name") in [(m.label_a, m.label_b) for m in pairs]
    assert ("Emails", "Emails") in [(m.label_a, m.label_b) for m in pairs]
    assert "Locations" in page and "Addresses" in page


def test_it_knows_standard_fields_without_credentials() -> None:
    assert "emails" in [spec.key for spec in standard_fields("kustomer")]
    assert "first_name" in [spec.key for spec in standard_fields("google_contacts")]


def test_it_answers_404_for_an_unknown_app(client: Client) -> None:
    assert client.get(reverse("integrations:app_detail", args=["salesforce"])).status_code == 404


def test_it_counts_a_vote(client_alice: Client, alice: User) -> None:
    response = client_alice.post(reverse("integrations:app_vote", args=["salesforce"]), follow=True)
    assert AppVote.objects.filter(user=alice, app="salesforce").count() == 1
    page = response.content.decode()
    assert "your vote for Salesforce is counted" in page
    assert "You voted" in page


def test_it_refuses_a_second_vote_for_the_same_app(client_alice: Client, alice: User) -> None:
    client_alice.post(reverse("integrations:app_vote", args=["salesforce"]))
    response = client_alice.post(reverse("integrations:app_vote", args=["salesforce"]), follow=True)
    assert "You already voted for Salesforce." in response.content.decode()
    assert AppVote.objects.filter(user=alice, app="salesforce").count() == 1


def test_it_refuses_a_vote_for_an_app_not_on_the_pipeline(client_alice: Client) -> None:
    response = client_alice.post(reverse("integrations:app_vote", args=["myspace"]), follow=True)
    assert "This app is not on the pipeline." in response.content.decode()
    assert not AppVote.objects.exists()


def test_it_needs_a_login_to_vote(client: Client, db: None) -> None:
    response = client.post(reverse("integrations:app_vote", args=["salesforce"]))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
    assert not AppVote.objects.exists()


def test_it_records_a_request_for_an_app_not_listed(client_alice: Client, alice: User) -> None:
    response = client_alice.post(
        reverse("integrations:app_request"),
        {"name": "  Teamleader  ", "note": "Contacts and companies"},
        follow=True,
    )
    assert "we noted your request for Teamleader" in response.content.decode()
    (created,) = AppRequest.objects.all()
    assert (created.user, created.name, created.note) == (
        alice,
        "Teamleader",
        "Contacts and companies",
    )


def test_it_shows_a_missing_app_name_beside_the_field(client_alice: Client) -> None:
    response = client_alice.post(reverse("integrations:app_request"), {"name": "", "note": "x"})
    assert response.status_code == 200
    assert response.context["request_form"].errors["name"]
    assert 'class="errorlist' in response.content.decode()
    assert not AppRequest.objects.exists()


def test_it_enforces_csrf_on_votes(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(reverse("integrations:app_vote", args=["salesforce"])).status_code == 403
    assert not AppVote.objects.exists()
