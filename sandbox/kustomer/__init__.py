"""An in-memory Kustomer org host, faithful to the parts of the REST API Tandem calls, split by
concern: ``app`` (the store, control methods and routes), ``schema`` (request bodies against the
official OpenAPI document), ``customers`` (rules beyond the schema, identifiers, rendering),
``search`` (criteria, matching, sorting), ``auth`` (tokens, roles, budgets), ``bulk`` (bulk
jobs), ``errors`` (Kustomer's error shape) and ``seed`` (the demo org)."""

from sandbox.kustomer.app import KustomerEmulator
from sandbox.kustomer.auth import (
    ALL_ROLES,
    ROLE_BULK,
    ROLE_CREATE,
    ROLE_DELETE,
    ROLE_METADATA,
    ROLE_READ,
    ROLE_SEARCH,
    ROLE_UPDATE,
)
from sandbox.kustomer.customers import Org, Token, custom_problem, iso
from sandbox.kustomer.errors import MAX_BODY_BYTES, ApiError
from sandbox.kustomer.seed import (
    DEMO_API_KEY,
    DEMO_EMAIL,
    DEMO_METADATA,
    DEMO_PASSWORD,
    DEMO_SUBDOMAIN,
    seed_customers,
    seed_demo,
)

__all__ = [
    "ALL_ROLES",
    "DEMO_API_KEY",
    "DEMO_EMAIL",
    "DEMO_METADATA",
    "DEMO_PASSWORD",
    "DEMO_SUBDOMAIN",
    "MAX_BODY_BYTES",
    "ROLE_BULK",
    "ROLE_CREATE",
    "ROLE_DELETE",
    "ROLE_METADATA",
    "ROLE_READ",
    "ROLE_SEARCH",
    "ROLE_UPDATE",
    "ApiError",
    "KustomerEmulator",
    "Org",
    "Token",
    "custom_problem",
    "iso",
    "seed_customers",
    "seed_demo",
]
