"""Build a connector for a stored connected account."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.views.decorators.debug import sensitive_variables

from accounts.models import ConnectedAccount
from integrations.connectors.base import Connector
from integrations.connectors.http import HttpClient
from integrations.connectors.registry import connector_class


@sensitive_variables()
def connector_for(
    account: ConnectedAccount, *, choices: Mapping[str, str] | None = None, **http_options: Any
) -> Connector:
    """A connector for ``account`` whose HTTP calls share the account's rate budget with every
    worker, and whose refreshed credentials are written back encrypted. ``choices`` are the
    connection's choices for this side (``Connection.choices_for``; Mailchimp: the audience),
    handed to a connector that declares choices; without them it keeps its default."""
    cls = connector_class(account.app)
    http = HttpClient(app=account.app, gate_key=f"{account.app}:{account.pk}", **http_options)

    @sensitive_variables()
    def store(credentials: dict[str, Any]) -> None:
        account.set_credentials(credentials)
        ConnectedAccount.objects.filter(pk=account.pk).update(credentials=account.credentials)

    extra: dict[str, Any] = {}
    if choices and cls.capabilities.connection_choices:
        extra["choices"] = dict(choices)
    return cls(account.get_credentials(), http=http, on_credentials_changed=store, **extra)
