from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.kustomer.connector import KustomerConnector
from sandbox.kustomer import KustomerEmulator
from tests.integrations.connectors.kustomer.conftest import API_KEY, EMAIL, PASSWORD, SUBDOMAIN

Make = Callable[..., KustomerConnector]


def test_it_checks_an_api_key_and_labels_the_account_by_subdomain(make_connector: Make) -> None:
    info = make_connector().check()
    assert info.label == f"{SUBDOMAIN}.kustomerapp.com"


def test_it_signs_in_with_email_and_password_and_caches_the_token(
    make_connector: Make,
) -> None:
    saved: list[dict[str, Any]] = []
    connector = make_connector(email=EMAIL, password=PASSWORD)
    connector.on_credentials_changed = saved.append
    assert connector.check().label == EMAIL
    assert saved and saved[-1]["token"]
    assert saved[-1]["token"] in connector.http.secrets


def test_it_reports_an_unknown_subdomain(make_connector: Make) -> None:
    with pytest.raises(ConnectorError) as caught:
        make_connector(subdomain="nosuchorg").check()
    assert caught.value.permanent
    assert "unknown subdomain" in caught.value.message


def test_it_reports_a_bad_password_without_echoing_it(make_connector: Make) -> None:
    with pytest.raises(ConnectorError) as caught:
        make_connector(email=EMAIL, password="wrong-password-42").check()
    assert caught.value.reauthorize
    assert caught.value.message == "Kustomer: the email or password was not accepted."


def test_it_asks_for_reauthorization_on_a_bad_api_key(make_connector: Make) -> None:
    with pytest.raises(ConnectorError) as caught:
        make_connector(api_key="not-a-real-key-123").check()
    assert caught.value.reauthorize
    assert caught.value.status == 401
    assert "not-a-real-key-123" not in caught.value.message


def test_it_names_the_missing_role_on_403(make_connector: Make) -> None:
    with pytest.raises(ConnectorError) as caught:
        make_connector(api_key="read-only-key").check()
    assert caught.value.permanent and not caught.value.reauthorize
    assert "org.permission.customer.read" in caught.value.message
    assert caught.value.message.startswith("Kustomer:")


def test_it_signs_in_again_once_when_a_cached_token_expired(
    make_connector: Make, emulator: KustomerEmulator
) -> None:
    connector = make_connector(email=EMAIL, password=PASSWORD)
    connector.check()
    old = connector.credentials["token"]
    emulator.expire_tokens(SUBDOMAIN)
    connector.check()
    assert connector.credentials["token"] != old


def test_it_raises_reauthorize_when_a_key_is_revoked_mid_run(
    make_connector: Make, emulator: KustomerEmulator
) -> None:
    connector = make_connector()
    connector.check()
    del emulator.org(SUBDOMAIN).tokens[API_KEY]
    with pytest.raises(ConnectorError) as caught:
        connector.get_many(["5f0000000000000000000001"])
    assert caught.value.reauthorize


@pytest.mark.parametrize(
    ("subdomain", "reason"),
    [
        ("acme.evil.com", "has a dot"),
        ("acme.", "has a dot"),
        ("a/b", "has a slash"),
        ("https://acme", "has a slash"),
        ("user@acme", "has an @"),
        ("acme:8080", "has a port"),
        ("127.0.0.1", "is an address"),
        ("[::1]", "is an address"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("-acme", "hyphen"),
        ("acme-", "hyphen"),
        ("a" * 64, "longer than 63"),
        ("ac_me", "characters other than"),
        ("ac me", "characters other than"),
        ("acmé", "characters other than"),
    ],
)
def test_it_rejects_a_subdomain_that_is_not_one_label_before_any_request(
    make_connector: Make, emulator: KustomerEmulator, subdomain: str, reason: str
) -> None:
    before = emulator.request_count
    with pytest.raises(ValueError, match=f"subdomain .*{reason}"):
        KustomerConnector.validate_credentials({"subdomain": subdomain, "api_key": API_KEY})
    with pytest.raises(ValueError, match=f"subdomain .*{reason}"):
        make_connector(subdomain=subdomain)
    assert emulator.request_count == before


def test_it_accepts_a_63_character_label_with_inner_hyphens() -> None:
    label = "a-" * 31 + "b"
    cleaned = KustomerConnector.validate_credentials({"subdomain": label, "api_key": API_KEY})
    assert cleaned["subdomain"] == label


def test_it_accepts_a_plain_subdomain_lowercased() -> None:
    cleaned = KustomerConnector.validate_credentials({"subdomain": " ACME ", "api_key": API_KEY})
    assert cleaned["subdomain"] == "acme"


def test_it_requires_an_api_key_or_email_and_password() -> None:
    with pytest.raises(ValueError, match="API key"):
        KustomerConnector.validate_credentials({"subdomain": "acme", "email": EMAIL})


def test_it_names_the_api_key_when_kustomer_refuses_it(make_connector: Make) -> None:
    with pytest.raises(ConnectorError) as caught:
        make_connector(api_key="not-a-real-key-123").check()
    assert caught.value.message == (
        "Kustomer: the API key was not accepted; authorize the account again."
    )
