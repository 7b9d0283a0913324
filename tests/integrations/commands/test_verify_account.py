"""`manage.py verify_account`: one authenticated call against the app (the sandbox here)."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ConnectedAccount
from tests.e2e.conftest import Pair

pytestmark = pytest.mark.django_db


def test_it_verifies_a_working_account(pair: Pair, capsys) -> None:
    call_command("verify_account", str(pair.account_a.pk))
    out = capsys.readouterr().out
    assert f"Kustomer account {pair.subdomain}.kustomerapp.com (id {pair.account_a.pk})" in out
    assert "verified as" in out


def test_it_prints_json_for_scripts(pair: Pair, capsys) -> None:
    call_command("verify_account", str(pair.account_b.pk), "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["app"] == "google_contacts" and data["status"] == "ok"


def test_it_fails_and_marks_an_account_the_app_refuses(pair: Pair) -> None:
    pair.account_a.set_credentials({"subdomain": pair.subdomain, "api_key": "key-revoked-1234"})
    pair.account_a.save()
    with pytest.raises(CommandError, match="failed verification: Kustomer: the API key was not"):
        call_command("verify_account", str(pair.account_a.pk))
    pair.account_a.refresh_from_db()
    assert pair.account_a.status == ConnectedAccount.Status.NEEDS_REAUTH


def test_it_never_prints_the_credentials(pair: Pair, capsys) -> None:
    secret = pair.account_a.get_credentials()["api_key"]
    call_command("verify_account", str(pair.account_a.pk), "--json")
    assert secret not in capsys.readouterr().out


def test_it_refuses_an_unknown_account(db: None) -> None:
    with pytest.raises(CommandError, match="No connected account with id 31337"):
        call_command("verify_account", "31337")
