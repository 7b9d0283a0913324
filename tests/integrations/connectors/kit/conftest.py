from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from integrations.connectors import registry
from tests.integrations.connectors.kit.acmecrm import SLUG


@pytest.fixture
def acmecrm(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[str]:
    """The made-up OAuth app, registered under its slug, its endpoints in the settings."""
    monkeypatch.setitem(
        registry.CONNECTORS,
        SLUG,
        ("Acme CRM", "tests.integrations.connectors.kit.acmecrm.AcmeCrmConnector"),
    )
    settings.ACMECRM_AUTHORIZE_URL = "https://login.acme.example/authorize"
    settings.ACMECRM_TOKEN_URL = "https://login.acme.example/token"
    settings.ACMECRM_CLIENT_ID = "tandem-client"
    settings.ACMECRM_CLIENT_SECRET = "tandem-client-secret"
    registry.connector_class.cache_clear()
    yield SLUG
    registry.connector_class.cache_clear()
