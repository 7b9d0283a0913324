"""Emails to a workspace's owners and admins when something needs them: an account that needs
re-authorization, a connection the mass-tag breaker paused.

One email per incident, not one per run: the account (or connection) is claimed with a
conditional UPDATE of its ``incident_notified_at`` before sending, so concurrent runs send it
once, and later failing runs find it stamped and send nothing. Fixing the incident clears the
stamp (``incident_clear_*``), which arms the next one.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import ConnectedAccount, Membership, Workspace
from integrations.models import Connection

logger = logging.getLogger(__name__)


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def workspace_admin_emails(*, workspace: Workspace) -> list[str]:
    """Owners' and admins' addresses, each once."""
    emails = (
        Membership.objects.filter(
            workspace=workspace,
            role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
            user__is_active=True,
        )
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    return list(dict.fromkeys(emails))


def _send(template: str, context: dict[str, Any], recipients: list[str]) -> bool:
    subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
    body = render_to_string(f"emails/{template}.txt", context)
    try:
        send_mail(subject=" ".join(subject.split()), message=body, from_email=None,
                  recipient_list=recipients)  # fmt: skip
    except Exception as exc:  # SMTP refusals, timeouts, DNS: any of them
        logger.warning("notification %s could not be sent (%s)", template, type(exc).__name__)
        return False
    return True


def _connection_item(connection: Connection) -> dict[str, Any]:
    return {
        "name": str(connection),
        "url": _absolute(reverse("integrations:connection_detail", kwargs={"pk": connection.pk})),
    }


def notify_account_needs_reauth(*, account: ConnectedAccount) -> bool:
    """Email the account's workspace owners and admins that ``account`` needs re-authorizing,
    once per incident. Returns whether this call sent it."""
    now = timezone.now()
    claimed = ConnectedAccount.objects.filter(
        pk=account.pk, incident_notified_at__isnull=True
    ).update(incident_notified_at=now)
    if not claimed:
        return False
    account.incident_notified_at = now
    recipients = workspace_admin_emails(workspace=account.workspace)
    if not recipients:
        return False
    connections = Connection.objects.filter(Q(account_a=account) | Q(account_b=account)).order_by(
        "name", "id"
    )
    context = {
        "account": account,
        "app": account.app_name,
        "workspace": account.workspace,
        "reason": account.last_error,
        "reauthorize_url": _absolute(
            reverse("accounts:connected_account_reauthorize", kwargs={"pk": account.pk})
        ),
        "connections": [_connection_item(c) for c in connections],
    }
    if not _send("account_needs_reauth", context, recipients):
        # Not sent: leave it armed so the next failing run tries again.
        ConnectedAccount.objects.filter(pk=account.pk, incident_notified_at=now).update(
            incident_notified_at=None
        )
        account.incident_notified_at = None
        return False
    logger.info("account %s needs re-authorization: emailed %s", account.pk, len(recipients))
    return True


def notify_connection_paused(*, connection: Connection, reason: str) -> bool:
    """Email the workspace's owners and admins that the mass-tag breaker paused
    ``connection``, once per incident. Returns whether this call sent it."""
    now = timezone.now()
    claimed = Connection.objects.filter(pk=connection.pk, incident_notified_at__isnull=True).update(
        incident_notified_at=now
    )
    if not claimed:
        return False
    connection.incident_notified_at = now
    recipients = workspace_admin_emails(workspace=connection.workspace)
    if not recipients:
        return False
    context = {
        "connection": _connection_item(connection),
        "workspace": connection.workspace,
        "reason": reason,
    }
    if not _send("connection_paused", context, recipients):
        Connection.objects.filter(pk=connection.pk, incident_notified_at=now).update(
            incident_notified_at=None
        )
        connection.incident_notified_at = None
        return False
    logger.info("connection %s paused by the breaker: emailed %s", connection.pk, len(recipients))
    return True


def incident_clear_account(*, account: ConnectedAccount) -> None:
    """The account works again: its next incident is emailed."""
    ConnectedAccount.objects.filter(pk=account.pk).update(incident_notified_at=None)
    account.incident_notified_at = None


def incident_clear_connection(*, connection: Connection) -> None:
    """The connection runs again: its next incident is emailed."""
    Connection.objects.filter(pk=connection.pk).update(incident_notified_at=None)
    connection.incident_notified_at = None
