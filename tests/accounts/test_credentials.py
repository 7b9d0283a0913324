import base64

import pytest
from django.db import connection as db
from django.test import override_settings

from accounts.models import ConnectedAccount
from tests.factories import ConnectedAccountFactory

pytestmark = pytest.mark.django_db

OLD_KEY = base64.urlsafe_b64encode(b"o" * 32).decode()
NEW_KEY = base64.urlsafe_b64encode(b"n" * 32).decode()


def raw_credentials(account: ConnectedAccount) -> bytes:
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT credentials FROM accounts_connectedaccount WHERE id = %s", [account.pk]
        )
        return bytes(cursor.fetchone()[0])


def test_it_stores_credentials_encrypted() -> None:
    account = ConnectedAccountFactory(creds={"subdomain": "acme", "password": "hunter2-secret"})
    raw = raw_credentials(account)
    assert b"hunter2-secret" not in raw
    assert b"acme" not in raw
    fresh = ConnectedAccount.objects.get(pk=account.pk)
    assert fresh.get_credentials()["password"] == "hunter2-secret"


def test_it_reads_credentials_after_a_key_rotation() -> None:
    with override_settings(FERNET_KEYS=[OLD_KEY]):
        account = ConnectedAccountFactory(creds={"password": "rotate-me-please"})
    with override_settings(FERNET_KEYS=[NEW_KEY, OLD_KEY]):
        fresh = ConnectedAccount.objects.get(pk=account.pk)
        assert fresh.get_credentials() == {"password": "rotate-me-please"}


def test_it_reencrypts_with_the_newest_key(capsys) -> None:
    from django.core.management import call_command

    with override_settings(FERNET_KEYS=[OLD_KEY]):
        account = ConnectedAccountFactory(creds={"password": "rotate-me-please"})
    with override_settings(FERNET_KEYS=[NEW_KEY, OLD_KEY]):
        call_command("reencrypt_credentials")
    with override_settings(FERNET_KEYS=[NEW_KEY]):
        fresh = ConnectedAccount.objects.get(pk=account.pk)
        assert fresh.get_credentials() == {"password": "rotate-me-please"}
    assert "re-encrypted the credentials of 1 connected account(s)" in capsys.readouterr().out
