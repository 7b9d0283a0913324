"""The API client base: bearer token, one renewal after a 401, errors classified by the app."""

from __future__ import annotations

import pytest

from integrations.connectors.api import ApiClient
from integrations.connectors.base import ConnectorError
from integrations.connectors.http import HttpClient, HttpError
from tests.integrations.connectors.kit.answers import Answers


class Tokens:
    """Hands out ``token-1``, then ``token-2`` after each renewal."""

    def __init__(self, *, renewable: bool = True) -> None:
        self.renewals = 0
        self.renewable = renewable

    def token(self) -> str:
        return f"token-{self.renewals + 1}"

    def renew(self) -> bool:
        if not self.renewable:
            return False
        self.renewals += 1
        return True


class AcmeClient(ApiClient):
    app_name = "Acme CRM"

    def classify(self, error: HttpError, *, what: str) -> ConnectorError:
        if error.status == 422 and error.response is not None:
            return ConnectorError(f"Acme CRM refused {error.response.json()['field']}", status=422)
        return super().classify(error, what=what)


def client(session: Answers, tokens: Tokens) -> AcmeClient:
    http = HttpClient(app="acme", session=session, max_retries=0, sleep=lambda _: None)
    return AcmeClient(
        http, "https://acme.example/api/", token=tokens.token, renew_token=tokens.renew
    )


def test_it_sends_the_bearer_token_to_the_base_url() -> None:
    session = Answers((200, {"ok": True}))

    body = client(session, Tokens()).call("GET", "/contacts", kind="list contacts")

    assert body == {"ok": True}
    assert session.sent[0][1] == "https://acme.example/api/contacts"
    assert session.header(0, "Authorization") == "Bearer token-1"


def test_it_renews_the_token_once_after_a_401_and_sends_the_call_again() -> None:
    session = Answers((401, {}), (200, {"ok": True}))
    tokens = Tokens()

    body = client(session, tokens).call("GET", "/contacts", kind="list contacts")

    assert body == {"ok": True} and tokens.renewals == 1
    assert session.header(1, "Authorization") == "Bearer token-2"


def test_it_renews_only_once_when_the_new_token_is_refused_too() -> None:
    session = Answers((401, {}), (401, {}), (200, {}))
    tokens = Tokens()

    with pytest.raises(ConnectorError) as raised:
        client(session, tokens).call("GET", "/contacts", kind="list contacts")

    assert raised.value.reauthorize and raised.value.status == 401
    assert tokens.renewals == 1 and len(session.sent) == 2


def test_it_does_not_send_again_when_the_token_cannot_be_renewed() -> None:
    session = Answers((401, {}), (200, {}))

    with pytest.raises(ConnectorError) as raised:
        client(session, Tokens(renewable=False)).call("GET", "/contacts", kind="list contacts")

    assert raised.value.reauthorize and len(session.sent) == 1


def test_it_lets_the_app_classify_its_error_shapes() -> None:
    session = Answers((422, {"field": "email"}))

    with pytest.raises(ConnectorError) as raised:
        client(session, Tokens()).call("POST", "/contacts", kind="create contact", json={})

    assert raised.value.message == "Acme CRM refused email" and not raised.value.permanent


@pytest.mark.parametrize(
    ("status", "permanent", "reauthorize"),
    [(401, True, True), (403, True, False), (429, False, False), (500, False, False)],
)
def test_it_classifies_statuses_by_default(status: int, permanent: bool, reauthorize: bool) -> None:
    session = Answers((status, {}))

    with pytest.raises(ConnectorError) as raised:
        client(session, Tokens(renewable=False)).call("GET", "/contacts", kind="list contacts")

    assert (raised.value.permanent, raised.value.reauthorize) == (permanent, reauthorize)
    assert raised.value.message.startswith("Acme CRM:") and raised.value.status == status


def test_it_says_where_the_api_could_not_be_reached() -> None:
    http = HttpClient(app="acme", max_retries=0, timeout=(0.5, 0.5))
    api = AcmeClient(http, "http://127.0.0.1:9/api", token=lambda: "t")

    with pytest.raises(ConnectorError) as raised:
        api.call("GET", "/contacts", kind="list contacts")

    assert (
        raised.value.message
        == "Acme CRM: the API at http://127.0.0.1:9/api/contacts could not be reached."
    )
