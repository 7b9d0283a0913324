"""Mailchimp's error shape (api-notes §4.5): ``application/problem+json`` bodies with ``type``,
``title``, ``status``, ``detail`` and ``instance`` (the spec's ``Problem_Detail_Document``), plus
``errors: [{field, message}]`` when merge fields or the body were invalid."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Response

DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"
TITLES = {
    400: "Bad Request",
    401: "API Key Invalid",
    403: "Forbidden",
    404: "Resource Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
DETAILS = {
    404: "The requested resource could not be found.",
    429: "You have exceeded the limit of 10 simultaneous connections.",
    500: "An unexpected internal error has occurred. Please contact Support for more information.",
    503: "This service is temporarily unavailable.",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        title: str = "",
        detail: str = "",
        *,
        errors: list[dict[str, str]] | None = None,
    ) -> None:
        title = title or TITLES.get(status, "Error")
        detail = detail or DETAILS.get(status, title)
        super().__init__(detail)
        self.status = status
        self.body: dict[str, Any] = {
            "type": DOCS,
            "title": title,
            "status": status,
            "detail": detail,
            "instance": str(uuid.uuid4()),
        }
        if errors:
            self.body["errors"] = errors


def invalid(detail: str, errors: list[dict[str, str]] | None = None) -> ApiError:
    """A 400 as Mailchimp answers a body or query it cannot accept."""
    return ApiError(400, "Invalid Resource", detail, errors=errors)


def not_found() -> ApiError:
    return ApiError(404)


def problem_response(exc: ApiError, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        json.dumps(exc.body),
        status=exc.status,
        headers=dict(headers or {}),
        content_type="application/problem+json; charset=utf-8",
    )
