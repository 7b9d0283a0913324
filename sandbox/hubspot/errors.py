"""HubSpot's error shape (api-notes §3.6): ``{"status": "error", "message", "correlationId",
"category", "subCategory", "context", "links", "errors": [{message, code, in, context,
subCategory}]}``; the 429 body of the rate limiter (``errorType``, ``policyName``, §3.5); and
the per-input errors of a batch (``status``, ``category``, ``message``, ``context``,
``errors``, ``links``). Tandem's contract of these shapes: ``tests/sandbox/hubspot_contract.py``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from werkzeug.wrappers import Response

from sandbox.kit import json_response

# HubSpot refuses request bodies over 3 MB (its documented request size limit).
MAX_BODY_BYTES = 3 * 1024 * 1024


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        sub_category: str = "",
        context: Mapping[str, list[str]] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.sub_category = sub_category
        self.context = dict(context or {})
        self.errors = list(errors or [])
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
        }
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.context:
            body["context"] = self.context
        if self.errors:
            body["errors"] = self.errors
        return body

    def batch_error(self) -> dict[str, Any]:
        """This error as one entry of a batch's ``errors[]``."""
        error: dict[str, Any] = {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": self.context,
            "errors": self.errors,
            "links": {},
        }
        if self.sub_category:
            error["subCategory"] = self.sub_category
        return error

    def response(self, headers: Mapping[str, str] | None = None) -> Response:
        return json_response(self.body(), self.status, {**dict(headers or {}), **self.headers})


def invalid(message: str, *, context: Mapping[str, list[str]] | None = None) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, context=context)


def not_found(message: str = "resource not found") -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", message)


def property_problems(problems: list[dict[str, Any]]) -> ApiError:
    """A write with property values HubSpot refuses: the message embeds the per-property
    verdicts as HubSpot does (``Property values were not valid: [{...}]``), and ``errors[]``
    repeats them with the property in ``context.propertyName``."""
    message = "Property values were not valid: " + json.dumps(problems, separators=(",", ":"))
    errors = [
        {
            "message": p["message"],
            "code": p["error"],
            "context": {"propertyName": [p["name"]]},
        }
        for p in problems
    ]
    return ApiError(400, "VALIDATION_ERROR", message, errors=errors)


def problem(name: str, error: str, message: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
    }


def conflict_existing(existing_id: str) -> ApiError:
    return ApiError(
        409,
        "CONFLICT",
        f"Contact already exists. Existing ID: {existing_id}",
        context={"existingId": [existing_id]},
    )


def unauthorized(message: str = "", *, expired: bool = False) -> ApiError:
    return ApiError(
        401,
        "EXPIRED_AUTHENTICATION" if expired else "INVALID_AUTHENTICATION",
        message
        or (
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at https://developers.hubspot.com/docs/methods/auth/"
            "oauth-overview"
        ),
    )


def missing_scopes(scopes: list[str]) -> ApiError:
    return ApiError(
        403,
        "MISSING_SCOPES",
        "This app hasn't been granted all required scopes to make this call. Read more about "
        "required scopes here: https://developers.hubspot.com/scopes.",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": scopes},
            }
        ],
    )


def rate_limited(policy: str, headers: Mapping[str, str]) -> Response:
    """The 429 HubSpot's rate limiter answers (its own body: ``errorType``, ``policyName``)."""
    messages = {
        "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
        "SECONDLY": "You have reached your secondly limit.",
        "DAILY": "You have reached your daily limit.",
    }
    body = {
        "status": "error",
        "message": messages[policy],
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
    }
    return json_response(body, 429, headers)


def server_error(status: int = 500) -> ApiError:
    messages = {
        500: "internal error",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    return ApiError(status, "INTERNAL_ERROR", messages.get(status, "error"))
