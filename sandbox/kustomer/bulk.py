"""Bulk jobs (api-notes §1.5 C11-C14): ``POST``, ``PUT`` and ``DELETE /v1/customers/bulk`` run at
once; ``GET /v1/bulk/{id}`` reports ``complete`` on the first poll and
``GET /v1/bulk/{id}/batches`` holds the per-item results (``_clientRef`` when sent)."""

from __future__ import annotations

import secrets
from typing import Any

from sandbox.kustomer.customers import Org, Token

CONTEXTS = {
    "POST": "api.sobjects.customers.bulk-create",
    "PUT": "api.sobjects.customers.bulk-update",
    "DELETE": "api.sobjects.customers.bulk-delete",
}


def record_job(
    org: Org,
    token: Token,
    *,
    method: str,
    echo: list[dict[str, Any]] | dict[str, Any],
    results: list[dict[str, Any]],
    job_id: str,
    batch_id: str,
    now: str,
) -> dict[str, Any]:
    """Store a completed job with its one batch; returns the job as the API renders it."""
    ids = [r["objectId"] for r in results if r["status"] != "error"]
    failures = sum(1 for r in results if r["status"] == "error")
    relationships = {
        "org": {"links": {"self": f"/v1/orgs/{org.id}"}, "data": {"type": "org", "id": org.id}},
        "createdBy": {
            "links": {"self": f"/v1/users/{token.user_id}"},
            "data": {"type": "user", "id": token.user_id},
        },
    }
    job = {
        "type": "bulk",
        "id": job_id,
        "attributes": {
            "ids": ids,
            "context": CONTEXTS[method],
            "status": "complete",
            "v2": True,
            "payload": {
                "api": {
                    "data": echo,
                    "path": "/v1/customers/bulk",
                    "user": {
                        "id": token.user_id,
                        "userType": "machine" if token.kind == "api_key" else "user",
                        "roles": sorted(token.roles),
                        "orgName": org.subdomain,
                        "subject": token.user_id,
                        "org": org.id,
                    },
                    "requestId": secrets.token_hex(12),
                    "service": "api",
                    "method": method,
                }
            },
            "batches": {"complete": 1, "total": 1},
            "createdAt": now,
            "updatedAt": now,
            "completed": True,
        },
        "relationships": relationships,
        "links": {"self": f"/v1/bulk/{job_id}"},
    }
    batch = {
        "type": "bulk_batch",
        "id": batch_id,
        "attributes": {
            "status": "complete",
            "objectIds": ids,
            "successCount": len(results) - failures,
            "failureCount": failures,
            "completedAt": now,
            "errors": [r["error"] for r in results if r["status"] == "error"],
            "results": results,
        },
    }
    org.bulk_jobs[job_id] = {"job": job, "batch": batch}
    return {"data": job}
