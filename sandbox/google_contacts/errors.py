"""Google's error shape (api-notes §2.7): ``google.rpc.Status`` as JSON, ``{"error": {code,
message, status, details}}``, with ``BadRequest.fieldViolations`` naming the field at fault."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from sandbox.kit import json_response


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        status: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.details = details or []
        self.headers: dict[str, str] = {}

    def response(self) -> Response:
        body = {
            "error": {
                "code": self.code,
                "message": self.message,
                "status": self.status,
                "details": self.details,
            }
        }
        return json_response(body, self.code, self.headers)


def invalid(message: str, field_name: str = "") -> ApiError:
    """400 ``INVALID_ARGUMENT``, with a field violation when the field is known."""
    details = (
        [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field_name, "description": message}],
            }
        ]
        if field_name
        else []
    )
    return ApiError(400, "INVALID_ARGUMENT", message, details)


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "Requested entity was not found.")
