"""Writes on accounts, workspaces and connected accounts."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import ConnectedAccount, Workspace


@transaction.atomic
def connected_account_upsert(
    *, workspace: Workspace, app: str, label: str, credentials: dict[str, Any]
) -> ConnectedAccount:
    """Store (or replace) the credentials of the workspace's account ``label`` of ``app``; the
    account is then considered verified and OK."""
    account, _ = ConnectedAccount.objects.select_for_update().get_or_create(
        workspace=workspace, app=app, label=label
    )
    account.set_credentials(credentials)
    account.status = ConnectedAccount.Status.OK
    account.last_error = ""
    account.last_verified_at = timezone.now()
    account.save()
    return account


def connected_account_mark(
    *, account: ConnectedAccount, status: str, error: str = ""
) -> ConnectedAccount:
    """Record the outcome of using an account: OK, needs re-authorization or error."""
    account.status = status
    account.last_error = error
    if status == ConnectedAccount.Status.OK:
        account.last_verified_at = timezone.now()
    ConnectedAccount.objects.filter(pk=account.pk).update(
        status=account.status,
        last_error=account.last_error,
        last_verified_at=account.last_verified_at,
    )
    return account


def connected_account_verify(*, account: ConnectedAccount) -> tuple[bool, str]:
    """Make the connector's one cheap authenticated call and record the outcome."""
    from integrations.connectors.accounts import connector_for
    from integrations.connectors.base import ConnectorError

    try:
        info = connector_for(account).check()
    except ConnectorError as exc:
        status = (
            ConnectedAccount.Status.NEEDS_REAUTH
            if exc.reauthorize
            else ConnectedAccount.Status.ERROR
        )
        connected_account_mark(account=account, status=status, error=exc.message)
        return False, exc.message
    connected_account_mark(account=account, status=ConnectedAccount.Status.OK)
    return True, f"verified as {info.label}"
