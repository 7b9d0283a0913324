"""One method per Kustomer API call on the kit's ``ApiClient``, with Kustomer's error bodies
classified into ``ConnectorError`` (messages start with "Kustomer:" and never carry a secret).

Auth is ``Authorization: Bearer <api key or token>``. A token obtained by signing in with an email
and password (``exchange_password_for_token``) is renewed once when it stops working.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import requests
from django.views.decorators.debug import sensitive_variables

from integrations.connectors.api import ApiClient, response_json
from integrations.connectors.base import ConnectorError, RecordRefused
from integrations.connectors.http import HttpClient, HttpError
from integrations.connectors.kustomer import mappers

MAX_PAGES = 100
# The page number in a search link's query (``links.next``, ``links.last``).
_PAGE_PARAM = re.compile(r"([?&]page=)(\d+)")
SEARCH_MAX_CRITERIA = 20
# Seconds to wait for a bulk job before giving up on it (its records are recovered by the
# create intents' keys on the next run).
BULK_WAIT = 60.0


def page_of(link: str) -> int | None:
    """The page a search link names, if it names one."""
    found = _PAGE_PARAM.search(link)
    return int(found.group(2)) if found else None


def with_page(link: str, number: int) -> str:
    """A search link naming page ``number`` instead."""
    return _PAGE_PARAM.sub(lambda found: f"{found.group(1)}{number}", link, count=1)


class KustomerRefusal(RecordRefused):
    """A 400, 409 or 413 about the record sent: the write fails, the batch goes on."""


def error_parts(response: requests.Response | None) -> tuple[str, str, str]:
    """(code, message, pointer) of Kustomer's error body, accepting both documented shapes and
    the legacy ``error`` key."""
    if response is None:
        return "", "", ""
    try:
        body = response_json(response)
    except ValueError:
        return "", "", ""
    if not isinstance(body, dict):
        return "", "", ""
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        err = errors[0]
        source = err.get("source") or {}
        message = err.get("message") or err.get("detail") or err.get("title") or ""
        pointer = source.get("pointer") or source.get("parameter") or ""
        return str(err.get("code") or ""), str(message), str(pointer)
    return str(body.get("errorCode") or ""), str(body.get("error") or ""), ""


def field_of(pointer: str) -> str:
    """The Tandem field a JSON pointer into a customer body names."""
    parts = [p for p in pointer.split("/") if p and p not in ("data", "attributes")]
    if not parts:
        return "the record"
    if parts[0] == "custom" and len(parts) > 1:
        return f"custom.{parts[1]}"
    return {"name": "full_name", "locations": "addresses", "timeZone": "time_zone"}.get(
        parts[0], parts[0]
    )


class KustomerClient(ApiClient):
    app_name = "Kustomer"

    @sensitive_variables()
    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        *,
        subdomain: str,
        token: Callable[[], str],
        renew_token: Callable[[], bool],
        credential_label: str = "API key",
    ) -> None:
        super().__init__(http, base_url, token=token, renew_token=renew_token)
        self.subdomain = subdomain
        # What the bearer token is, for messages: "API key" or "sign-in token".
        self.credential_label = credential_label
        # The user this client's writes are made as (an API key's machine user), once a write's
        # answer named it: a written customer's ``modifiedBy``, a bulk job's ``createdBy``.
        self.author = ""

    def _note_author(self, resource: Mapping[str, Any], relation: str) -> None:
        relationships = resource.get("relationships")
        related = relationships.get(relation) if isinstance(relationships, dict) else None
        data = related.get("data") if isinstance(related, dict) else None
        user_id = data.get("id") if isinstance(data, dict) else None
        if isinstance(user_id, str) and user_id:
            self.author = user_id

    def classify(self, error: HttpError, *, what: str) -> ConnectorError:
        code, message, pointer = error_parts(error.response)
        message = self.http._redact(message)
        status = error.status
        if status == 404 and code == "org_not_found":
            return ConnectorError(
                f"Kustomer: unknown subdomain {self.subdomain!r}.", permanent=True, status=404
            )
        if status == 401:
            expired = "expired" in message.casefold()
            return ConnectorError(
                f"Kustomer: the {self.credential_label} was not accepted"
                f"{' (it expired)' if expired else ''}; authorize the account again.",
                reauthorize=True,
                status=401,
            )
        if status == 403:
            return ConnectorError(
                f"Kustomer: the API key lacks a permission ({message or 'missing role'}).",
                permanent=True,
                status=403,
            )
        if status in (400, 409, 413):
            field = field_of(pointer)
            reason = message or "invalid request"
            return KustomerRefusal(
                f"Kustomer refused {field}: {reason}", field=field, reason=reason, status=status
            )
        if status is None or status == 429:
            return super().classify(error, what=what)
        return ConnectorError(f"Kustomer: the API answered {status}.", status=status)

    def follow(self, link: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Follow a relative ``links.next`` of a search verbatim (only paths on the org host)."""
        return self.decode(self.follow_answer(link, body))

    def follow_answer(
        self, link: str, body: Mapping[str, Any], *, renew: bool = True
    ) -> requests.Response:
        """``follow`` without decoding the answer (``decode``): a listing asks for its next
        pages while it decodes the one before (``connectors/kustomer/ahead.py``). ``renew``
        as ``ApiClient.request``'s."""
        if not link.startswith("/v1/customers/search?"):
            raise ConnectorError(f"Kustomer: unexpected next link {link[:80]!r}.")
        return self.request(
            "POST", link, kind="search customers", idempotent=True, renew=renew, json=dict(body)
        )

    @staticmethod
    def decode(response: requests.Response) -> dict[str, Any]:
        """A search page's JSON object, with of each customer what Tandem reads
        (``mappers.search_page``); decoded whole when it is not shaped as documented."""
        page = mappers.search_page(response.content)
        if page is not None:
            return page
        result: dict[str, Any] = response_json(response)
        return result

    # ---- endpoints ---------------------------------------------------------------------------

    # Undocumented: Kustomer publishes no email + password sign-in for API clients.
    @sensitive_variables()
    def exchange_password_for_token(self, email: str, password: str) -> str:
        """Sign in with an email and password and return a bearer token.

        Kustomer does not document such an endpoint; this calls the sandbox's emulated
        ``POST /v1/auth/login`` (``{"email", "password"}`` -> ``data.attributes.token``). Against
        the real API use an API key.
        """
        try:
            response = self.http.request(
                "POST",
                self.base_url + "/v1/auth/login",
                kind="sign in",
                idempotent=False,
                json={"email": email, "password": password},
            )
        except HttpError as exc:
            if exc.status == 401:
                raise ConnectorError(
                    "Kustomer: the email or password was not accepted.",
                    reauthorize=True,
                    status=401,
                ) from None
            raise self.classify(exc, what="sign in") from None
        token = str(response_json(response)["data"]["attributes"]["token"])
        self.http.add_secret(token)
        return token

    # https://developer.kustomer.com/kustomer-api-docs/reference/getcustomers
    def list_customers(self, *, page: int = 1, page_size: int = 1) -> dict[str, Any]:
        response = self.request(
            "GET",
            "/v1/customers",
            kind="list customers",
            params={"page": page, "pageSize": page_size},
        )
        result: dict[str, Any] = response_json(response)
        return result

    # https://developer.kustomer.com/kustomer-api-docs/reference/getcustomerbyid
    def get_customer(self, customer_id: str) -> dict[str, Any] | None:
        if not re.fullmatch(r"[0-9A-Za-z]{1,64}", customer_id):
            return None
        response = self.request(
            "GET", f"/v1/customers/{customer_id}", kind="get customer", accept=(404,)
        )
        if response.status_code == 404:
            return None
        # Not noted as the author: whoever modified a customer last need not be Tandem.
        result: dict[str, Any] = response_json(response)["data"]
        return result

    # https://developer.kustomer.com/kustomer-api-docs/reference/createacustomer
    def create_customer(self, body: Mapping[str, Any]) -> dict[str, Any]:
        response = self.request(
            "POST", "/v1/customers", kind="create customer", idempotent=False, json=dict(body)
        )
        result: dict[str, Any] = response_json(response)["data"]
        self._note_author(result, "modifiedBy")
        return result

    # https://developer.kustomer.com/kustomer-api-docs/reference/updatecustomerattributes
    def update_customer(self, customer_id: str, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """PATCH the given attributes; ``None`` when the customer does not exist (any more)."""
        if not re.fullmatch(r"[0-9A-Za-z]{1,64}", customer_id):
            return None
        response = self.request(
            "PATCH",
            f"/v1/customers/{customer_id}",
            kind="update customer",
            idempotent=True,
            accept=(404,),
            json=dict(body),
        )
        if response.status_code == 404:
            return None
        result: dict[str, Any] = response_json(response)["data"]
        self._note_author(result, "modifiedBy")
        return result

    # https://developer.kustomer.com/kustomer-api-docs/reference/bulkcreatecustomers
    # https://developer.kustomer.com/kustomer-api-docs/reference/bulk-operations
    def bulk_create_customers(self, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Create up to 100 customers in one bulk job and wait for it; the per-item results
        (``{status, objectId, error}``) keyed by each item's ``_clientRef``."""
        response = self.request(
            "POST", "/v1/customers/bulk", kind="bulk create customers", idempotent=False, json=items
        )
        job: dict[str, Any] = response_json(response)["data"]
        self._note_author(job, "createdBy")
        delay = 0.5
        waited = 0.0
        while str((job.get("attributes") or {}).get("status")) != "complete":
            if waited >= BULK_WAIT:
                raise ConnectorError("Kustomer: the bulk job did not finish in time.")
            self.http.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)
            job = self.bulk_job(str(job["id"]))
        outcomes: dict[str, dict[str, Any]] = {}
        for batch in self.bulk_batches(str(job["id"])):
            for result in (batch.get("attributes") or {}).get("results") or []:
                if isinstance(result, dict) and result.get("_clientRef") is not None:
                    outcomes[str(result["_clientRef"])] = result
        return outcomes

    # https://developer.kustomer.com/kustomer-api-docs/reference/bulk-operations
    def bulk_job(self, job_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/v1/bulk/{job_id}", kind="bulk job")
        result: dict[str, Any] = response_json(response)["data"]
        return result

    # https://developer.kustomer.com/kustomer-api-docs/reference/bulk-operations
    def bulk_batches(self, job_id: str) -> list[dict[str, Any]]:
        response = self.request("GET", f"/v1/bulk/{job_id}/batches", kind="bulk job results")
        result: list[dict[str, Any]] = response_json(response)["data"]
        return result

    # https://developer.kustomer.com/kustomer-api-docs/reference/searchcustomers
    def search_customers(
        self, body: Mapping[str, Any], *, page: int = 1, page_size: int = 100
    ) -> dict[str, Any]:
        response = self.request(
            "POST",
            "/v1/customers/search",
            kind="search customers",
            idempotent=True,
            params={"page": page, "pageSize": page_size},
            json=dict(body),
        )
        return self.decode(response)

    # https://developer.kustomer.com/kustomer-api-docs/reference/getmetadata
    def customer_metadata(self) -> dict[str, Any]:
        response = self.request("GET", "/v1/metadata/customer", kind="customer metadata")
        result: dict[str, Any] = response_json(response)
        return result
