"""``OAuthTokens``: an OAuth app's access token, refreshed before it expires, stored back."""

from __future__ import annotations

import time
from typing import Any

import pytest

from integrations.connectors.base import ConnectorError
from integrations.connectors.http import HttpClient
from integrations.connectors.oauth import OAuthTokens
from tests.integrations.connectors.kit.acmecrm import AcmeCrmConnector
from tests.integrations.connectors.kit.answers import Answers


def connector(
    session: Answers, saved: list[dict[str, Any]], **credentials: Any
) -> AcmeCrmConnector:
    http = HttpClient(app="acmecrm", session=session, max_retries=0)
    return AcmeCrmConnector(credentials, http=http, on_credentials_changed=saved.append)


def test_it_uses_the_stored_token_while_it_is_fresh(acmecrm: str) -> None:
    session, saved = Answers(), []
    app = connector(session, saved, access_token="at-1", expires_at=time.time() + 3600)

    assert OAuthTokens(app).token() == "at-1" and not session.sent


def test_it_refreshes_a_token_about_to_expire_and_stores_it(acmecrm: str) -> None:
    session, saved = Answers((200, {"access_token": "at-2", "expires_in": 3600})), []
    app = connector(
        session, saved, access_token="at-1", refresh_token="rt-1", expires_at=time.time() + 30
    )

    assert OAuthTokens(app).token() == "at-2"

    assert session.sent[0][2]["data"]["refresh_token"] == "rt-1"
    assert saved[0]["access_token"] == "at-2" and saved[0]["refresh_token"] == "rt-1"


def test_it_asks_for_reauthorization_without_a_refresh_token(acmecrm: str) -> None:
    app = connector(Answers(), [], access_token="at-1", expires_at=0)

    with pytest.raises(ConnectorError) as raised:
        OAuthTokens(app).token()

    assert raised.value.reauthorize and raised.value.message.startswith("Acme CRM:")


def test_it_asks_for_reauthorization_when_the_grant_was_revoked(acmecrm: str) -> None:
    session = Answers((400, {"error": "invalid_grant", "error_description": "Token revoked"}))
    app = connector(session, [], refresh_token="rt-1")

    with pytest.raises(ConnectorError) as raised:
        OAuthTokens(app).renew()

    assert raised.value.reauthorize and "rt-1" not in raised.value.message
