"""Kustomer's error shape (api-notes §1.9): ``{"errors": [{status, code, title, detail, source,
meta}]}``, the JSON:API form Kustomer's newer docs show, with ``source.pointer`` into the body or
``source.parameter`` naming a query parameter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Response

from sandbox.kit import json_response

# Bodies over 100 kB are refused with 413 (api-notes §1.9).
MAX_BODY_BYTES = 100 * 1024


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str = "",
        pointer: str = "",
        *,
        parameter: str = "",
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.body: dict[str, Any] = {
            "status": str(status),
            "code": code,
            "title": title,
            "detail": detail or title,
            "meta": {},
        }
        if pointer:
            self.body["source"] = {"pointer": pointer}
        elif parameter:
            self.body["source"] = {"parameter": parameter}
        self.headers: dict[str, str] = {}


def bad_request(detail: str, pointer: str = "", *, parameter: str = "") -> ApiError:
    """A 400 as Kustomer answers invalid data in the URL or the body."""
    return ApiError(400, "bad_request", "Bad Request", detail, pointer, parameter=parameter)


def not_found(detail: str) -> ApiError:
    return ApiError(404, "not_found", "Not Found", detail)


def too_large(size: int) -> ApiError:
    return ApiError(
        413,
        "payload_too_large",
        "Payload Too Large",
        f"The request body is {size} bytes; at most {MAX_BODY_BYTES} are accepted",
    )


def status_error(status: int) -> ApiError:
    titles = {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}
    return ApiError(status, "error", titles.get(status, "Error"))


def error_response(exc: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"errors": [exc.body]}, exc.status, headers)
