"""The base of every app's API client: authorized calls through the HTTP seam.

An app's ``client.py`` subclasses ``ApiClient`` and adds one method per API call (with the
vendor-doc URL above it) and a ``classify`` for the app's error shapes. The base builds the URL
from the base URL, sends the bearer token the connector provides and, after a 401, asks the
connector once for a renewed token and sends the call again: exactly once, so a token that keeps
being refused ends as a "re-authorize the account" error instead of a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import requests
from django.views.decorators.debug import sensitive_variables

from integrations import jsoncodec
from integrations.connectors.base import ConnectorError
from integrations.connectors.http import HttpClient, HttpError, parse_ratelimit_reset


def response_json(response: requests.Response) -> Any:
    """The JSON document a response holds (``ValueError`` when it holds none), decoded as
    ``response.json()`` would in about half its time (``jsoncodec``)."""
    return jsoncodec.decode(response.content)


def json_object(body: bytes) -> dict[str, Any]:
    """``body``'s JSON object, or ``{}`` when it is not one (not JSON, a list)."""
    try:
        data = jsoncodec.decode(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def json_body(response: requests.Response | None) -> dict[str, Any]:
    """A response's JSON object, or ``{}`` when there is none (no answer, not JSON, a list)."""
    return {} if response is None else json_object(response.content)


class ApiClient:
    """Calls to one account of an app.

    ``token()`` gives the bearer token to send (refreshing it first when the connector knows it
    is about to expire); ``renew_token()`` is called after a 401 and says whether a new token
    was obtained (an API key cannot be renewed: ``False``, and the 401 stands).
    """

    # The app's name, which starts every message ("Kustomer: ...").
    app_name: ClassVar[str] = ""

    @sensitive_variables()
    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        *,
        token: Callable[[], str],
        renew_token: Callable[[], bool] | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._renew_token = renew_token

    def url(self, path: str) -> str:
        return self.base_url + path

    @sensitive_variables("token")
    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Accept": "application/json"}

    def classify(self, error: HttpError, *, what: str) -> ConnectorError:
        """The ``ConnectorError`` for a call the seam gave up on (``error.status`` is ``None``
        when no answer came). Apps override this to read their error bodies; this knows only
        the statuses. ``what`` names the call for messages ("listing contacts")."""
        name = self.app_name
        status = error.status
        if status is None:
            where = f" at {error.url}" if error.url else ""
            return ConnectorError(f"{name}: the API{where} could not be reached.")
        if status == 401:
            return ConnectorError(
                f"{name}: the credentials were not accepted; authorize the account again.",
                reauthorize=True,
                status=401,
            )
        if status == 403:
            return ConnectorError(
                f"{name}: {what} is not allowed for this account.", permanent=True, status=403
            )
        if status == 429:
            retry_after = (
                parse_ratelimit_reset(error.response.headers)
                if error.response is not None
                else None
            )
            return ConnectorError(
                f"{name}: the rate limit is exhausted.", status=429, retry_after=retry_after
            )
        return ConnectorError(f"{name}: {what} failed ({status}).", status=status)

    @sensitive_variables("headers")
    def request(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        what: str = "",
        idempotent: bool | None = None,
        accept: Iterable[int] = (),
        renew: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one call (``path`` is appended to the base URL); a refusal of the token is
        answered by one renewal and one more try (unless ``renew`` is false: a call made in a
        thread that must not change the credentials). Raises what ``classify`` makes of a
        failure."""
        extra = kwargs.pop("headers", None) or {}
        renewed = False
        while True:
            headers = {**self.headers(self._token()), **extra}
            try:
                return self.http.request(
                    method,
                    self.url(path),
                    kind=kind,
                    idempotent=idempotent,
                    accept=accept,
                    headers=headers,
                    **kwargs,
                )
            except HttpError as exc:
                if (
                    exc.status == 401
                    and renew
                    and not renewed
                    and self._renew_token is not None
                    and self._renew_token()
                ):
                    renewed = True
                    continue
                raise self.classify(exc, what=what or kind) from None

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """``request`` and the JSON object it answered."""
        return json_body(self.request(method, path, **kwargs))
