"""Fault tests reuse the end-to-end pair: a Kustomer org and a Google account on the sandbox."""

from tests.e2e.conftest import pair

__all__ = ["pair"]
