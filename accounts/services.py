"""Writes on accounts, workspaces, invitations and connected accounts."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from accounts.models import ConnectedAccount, Invitation, Membership, User, Workspace
from integrations.connectors.registry import app_label, connector_class

logger = logging.getLogger(__name__)

# How long an invitation link stays valid.
INVITATION_DAYS = 7


# ---- sign-up and workspaces -------------------------------------------------------------------


def workspace_slug_for(name: str) -> str:
    """A slug for a new workspace named ``name`` that no workspace has yet."""
    max_length = Workspace._meta.get_field("slug").max_length or 80
    base = (slugify(name) or "workspace")[: max_length - 8].strip("-") or "workspace"
    candidate = base
    suffix = 2
    while Workspace.objects.filter(slug=candidate).exists():
        candidate = f"{base}-{suffix}"
        suffix += 1
    return candidate


def workspace_name_clean(name: str) -> str:
    """``name`` stripped, as a workspace can hold it; ``ValidationError`` on ``name`` for an
    empty or over-long one, or one holding a NUL character (PostgreSQL refuses it in text)."""
    cleaned = str(name or "").strip()
    max_length = Workspace._meta.get_field("name").max_length or 200
    if not cleaned:
        raise ValidationError({"name": "Name your workspace."})
    if "\x00" in cleaned:
        raise ValidationError({"name": "A workspace name cannot contain a NUL character."})
    if len(cleaned) > max_length:
        raise ValidationError(
            {"name": f"A workspace name is at most {max_length} characters long."}
        )
    return cleaned


def workspace_create(*, name: str, owner: User) -> Workspace:
    """A new workspace owned by ``owner``, under a unique slug (a concurrent sign-up taking the
    same slug makes this try the next one). ``ValidationError`` for a name it cannot hold."""
    name = workspace_name_clean(name)
    for _ in range(5):
        try:
            with transaction.atomic():
                workspace = Workspace.objects.create(name=name, slug=workspace_slug_for(name))
                Membership.objects.create(
                    workspace=workspace, user=owner, role=Membership.Role.OWNER
                )
                return workspace
        except IntegrityError:
            continue
    with transaction.atomic():
        slug = f"{workspace_slug_for(name)[:60]}-{secrets.token_hex(4)}"
        workspace = Workspace.objects.create(name=name, slug=slug)
        Membership.objects.create(workspace=workspace, user=owner, role=Membership.Role.OWNER)
        return workspace


def _new_user(*, email: str, full_name: str, password: str) -> User:
    email = User.objects.normalize_email(email).strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "An account with this email already exists. Log in."})
    user = User(email=email, full_name=full_name.strip())
    validate_password(password, user)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Someone signed up with the same email a moment ago.
        raise ValidationError(
            {"email": "An account with this email already exists. Log in."}
        ) from None
    return user


@sensitive_variables("password")
@transaction.atomic
def user_signup(*, email: str, full_name: str, workspace_name: str, password: str) -> User:
    """Create a user, their workspace (under a unique slug) and their owner membership.

    Raises ``ValidationError`` (a taken email, a password Django's validators refuse) and then
    stores nothing."""
    if not workspace_name.strip():
        raise ValidationError({"workspace_name": "Name your workspace."})
    user = _new_user(email=email, full_name=full_name, password=password)
    workspace_create(name=workspace_name.strip(), owner=user)
    return user


# ---- invitations ------------------------------------------------------------------------------


def invitation_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SentInvitation:
    invitation: Invitation
    accept_url: str


@sensitive_variables("token", "accept_url")
def invitation_create(
    *, workspace: Workspace, email: str, role: str, invited_by: User
) -> SentInvitation:
    """Invite ``email`` to ``workspace`` with ``role`` and email them the link to accept (on
    ``SITE_URL``). A pending invitation of the same email to the same workspace is replaced, so
    only the newest link works. An email that cannot be sent leaves no invitation behind."""
    email = User.objects.normalize_email(email).strip().lower()
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose a role."})
    if (
        role == Membership.Role.OWNER
        and not Membership.objects.filter(
            workspace=workspace, user=invited_by, role=Membership.Role.OWNER
        ).exists()
    ):
        raise ValidationError({"role": "Only an owner can invite another owner."})
    if Membership.objects.filter(workspace=workspace, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {workspace.name}."})
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        Invitation.objects.filter(
            workspace=workspace, email__iexact=email, accepted_at__isnull=True
        ).delete()
        invitation = Invitation.objects.create(
            workspace=workspace,
            email=email,
            role=role,
            token_hash=invitation_token_hash(token),
            invited_by=invited_by,
            expires_at=timezone.now() + dt.timedelta(days=INVITATION_DAYS),
        )
    path = reverse("accounts:invite_accept", kwargs={"token": token})
    accept_url = settings.SITE_URL.rstrip("/") + path
    inviter = invited_by.full_name or invited_by.email
    try:
        send_mail(
            subject=f"{inviter} invited you to {workspace.name} on Tandem",
            message=(
                f"{inviter} invited you to join the workspace {workspace.name} on Tandem as "
                f"{Membership.Role(role).label.lower()}.\n\n"
                f"Accept the invitation here:\n{accept_url}\n\n"
                f"The link works once and expires in {INVITATION_DAYS} days. If you did not "
                "expect it, ignore this email."
            ),
            from_email=None,
            recipient_list=[email],
        )
    except Exception as exc:  # SMTP refusals, timeouts, DNS: any of them
        logger.warning("invitation %s: the email could not be sent (%s)", invitation.pk, exc)
        invitation.delete()
        raise ValidationError(
            {"email": "The invitation email could not be sent; try again in a few minutes."}
        ) from None
    return SentInvitation(invitation, accept_url)


def invitation_revoke(*, invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).delete()


def _claim_invitation(invitation: Invitation, user: User) -> Membership:
    claimed = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, expires_at__gt=timezone.now()
    ).update(accepted_at=timezone.now(), accepted_by=user)
    if not claimed:
        raise ValidationError("This invitation has expired or was already used.")
    membership, _ = Membership.objects.get_or_create(
        workspace=invitation.workspace, user=user, defaults={"role": invitation.role}
    )
    return membership


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Add ``user`` (already signed in) to the invitation's workspace. The invitation works
    once; a user already a member keeps their role."""
    return _claim_invitation(invitation, user)


@sensitive_variables("password")
@transaction.atomic
def invitation_signup(*, invitation: Invitation, full_name: str, password: str) -> User:
    """Create the invited person's account under the invited email and add it to the
    workspace; ``ValidationError`` when the email has an account already (they log in instead)
    or the password is refused."""
    user = _new_user(email=invitation.email, full_name=full_name, password=password)
    _claim_invitation(invitation, user)
    return user


# ---- connected accounts -----------------------------------------------------------------------


@sensitive_variables("credentials", "cleaned")
def connected_account_credentials_clean(
    *, app: str, credentials: Mapping[str, Any]
) -> dict[str, Any]:
    """``credentials`` checked and normalized by the app's connector, extra keys kept (a cached
    token, the Google email); ``ValidationError`` naming the problem otherwise."""
    try:
        cls = connector_class(app)
    except LookupError:
        raise ValidationError(f"There is no app {app!r}.") from None
    try:
        cleaned = cls.validate_credentials(credentials)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    return {**credentials, **cleaned}


@sensitive_variables("credentials", "validated")
@transaction.atomic
def connected_account_upsert(
    *, workspace: Workspace, app: str, label: str, credentials: dict[str, Any]
) -> ConnectedAccount:
    """Store (or replace) the credentials of the workspace's account ``label`` of ``app``; the
    account is then considered verified and OK, and the connections that stopped because of it
    resume.

    Credentials are validated by the app's connector first (``ValidationError`` otherwise and
    nothing is stored): a hostile Kustomer subdomain is refused whoever calls this. Callers
    verify the credentials against the app first (``connected_account_authorize`` does)."""
    validated = connected_account_credentials_clean(app=app, credentials=credentials)
    label = label.strip()
    if not label:
        raise ValidationError("The account needs a label.")
    account, _ = ConnectedAccount.objects.select_for_update().get_or_create(
        workspace=workspace, app=app, label=label
    )
    previous_status, previous_error = account.status, account.last_error
    account.set_credentials(validated)
    account.status = ConnectedAccount.Status.OK
    account.last_error = ""
    account.last_verified_at = timezone.now()
    # Working again: the next incident gets its own email.
    account.incident_notified_at = None
    account.save()
    from integrations.webhooks.services import webhooks_account_connected

    webhooks_account_connected(account=account)
    if previous_status != ConnectedAccount.Status.OK:
        connections_resume_for_account(account=account, previous_error=previous_error)
    return account


def connections_resume_for_account(*, account: ConnectedAccount, previous_error: str) -> list[int]:
    """Resume every connection that stopped because of ``account`` (needs re-authorization, or
    an error with the account's former error as its reason) once both its accounts are OK.
    Returns the ids resumed."""
    from integrations.models import Connection
    from integrations.services import connection_resume

    stopped = Q(status=Connection.Status.NEEDS_REAUTH)
    if previous_error:
        stopped |= Q(status=Connection.Status.ERROR, status_reason=previous_error)
    resumed = []
    candidates = (
        Connection.objects.filter(Q(account_a=account) | Q(account_b=account))
        .filter(stopped)
        .select_related("account_a", "account_b")
    )
    for connection in candidates:
        accounts = (connection.account_a, connection.account_b)
        if any(
            other.pk != account.pk and other.status != ConnectedAccount.Status.OK
            for other in accounts
        ):
            continue
        connection_resume(connection=connection)
        resumed.append(connection.pk)
    if resumed:
        logger.info("account %s authorized again: resumed connections %s", account.pk, resumed)
    return resumed


class AuthorizationFailed(ValidationError):
    """The app refused the credentials (or could not be reached): nothing was stored."""


def connected_account_other_app_account(account: ConnectedAccount, info: Any) -> str:
    """Why credentials verified as ``info`` (``AccountInfo``) may not authorize ``account``
    again: they reach another account of the app than the one it keeps (HubSpot: another
    portal), which would point its connections at someone else's contacts; "" when they may."""
    from integrations.connectors.base import ACCOUNT_ID_KEY

    kept = str(account.get_credentials().get(ACCOUNT_ID_KEY) or "")
    if not kept or not info.account_id or kept == info.account_id:
        return ""
    return (
        f"{account.app_name}: these credentials reach account {info.account_id}, but this "
        f"account is {kept}. Nothing was changed; add a new account for the other one."
    )


@sensitive_variables("credentials", "cleaned", "refreshed", "connector")
def connected_account_authorize(
    *,
    workspace: Workspace,
    app: str,
    credentials: Mapping[str, Any],
    account: ConnectedAccount | None = None,
) -> ConnectedAccount:
    """Check typed-in credentials with the connector's one authenticated call against the app,
    then store them encrypted: a new account of ``workspace``, or ``account`` authorized again
    (its connections that stopped because of it resume).

    ``ValidationError`` when the shape is wrong, ``AuthorizationFailed`` when the app refuses
    them; nothing is stored either way."""
    from integrations.connectors.base import ACCOUNT_ID_KEY, ConnectorError
    from integrations.connectors.http import HttpClient

    if account is not None and (account.workspace_id != workspace.pk or account.app != app):
        raise ValidationError("This account belongs to another app or workspace.")
    cleaned = connected_account_credentials_clean(app=app, credentials=credentials)
    cls = connector_class(app)
    if account is not None:
        _same_identity(cls.credential_fields, account, cleaned)
    refreshed: dict[str, Any] = {}
    try:
        # One quick try: a person is waiting on the page.
        http = HttpClient(app=app, max_retries=1, max_wait=5.0)
        connector = cls(cleaned, http=http, on_credentials_changed=refreshed.update)
        info = connector.check()
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    except ConnectorError as exc:
        if exc.reauthorize:
            raise AuthorizationFailed(
                f"Authentication failed. {exc.message} Check the {app_label(app)} credentials "
                "and try again."
            ) from None
        raise AuthorizationFailed(exc.message) from None
    if account is not None:
        other = connected_account_other_app_account(account, info)
        if other:
            raise AuthorizationFailed(other)
    label = account.label if account is not None else info.label
    known = {ACCOUNT_ID_KEY: info.account_id} if info.account_id else {}
    return connected_account_upsert(
        workspace=workspace, app=app, label=label, credentials={**cleaned, **refreshed, **known}
    )


def _same_identity(fields: Any, account: ConnectedAccount, cleaned: Mapping[str, Any]) -> None:
    """Authorizing an account again may change how it signs in, not which org it is: the
    required non-secret fields (Kustomer's subdomain) must stay, or its connections' links
    would point into another org."""
    stored = account.get_credentials()
    for spec in fields:
        if spec.secret or not spec.required or not stored.get(spec.name):
            continue
        if str(stored[spec.name]).casefold() != str(cleaned.get(spec.name, "")).casefold():
            raise ValidationError(
                {
                    spec.name: f"This account is {spec.label.lower()} {stored[spec.name]!r}; "
                    f"add a new account for another one."
                }
            )


class AccountInUse(ValidationError):
    """A connection still uses the account, so it cannot be disconnected."""


def connected_account_disconnect(*, account: ConnectedAccount) -> None:
    """Delete the account and its credentials; refused while a connection uses it."""
    from integrations.models import Connection

    using = list(
        Connection.objects.filter(Q(account_a=account) | Q(account_b=account)).order_by("id")
    )
    if using:
        names = ", ".join(c.name or f"Connection {c.pk}" for c in using)
        raise AccountInUse(
            f"{account.app_name} account {account.label} is used by {names}. Delete or change "
            "those connections first."
        )
    from integrations.webhooks.services import webhooks_unsubscribe

    webhooks_unsubscribe(account=account)
    account.delete()


def connected_account_mark(
    *, account: ConnectedAccount, status: str, error: str = ""
) -> ConnectedAccount:
    """Record the outcome of using an account: OK, needs re-authorization or error."""
    account.status = status
    account.last_error = error
    updates: dict[str, Any] = {}
    if status == ConnectedAccount.Status.OK:
        account.last_verified_at = timezone.now()
        # Working again: the next incident gets its own email.
        account.incident_notified_at = updates["incident_notified_at"] = None
    ConnectedAccount.objects.filter(pk=account.pk).update(
        status=account.status,
        last_error=account.last_error,
        last_verified_at=account.last_verified_at,
        **updates,
    )
    return account


def connected_account_verify(*, account: ConnectedAccount) -> tuple[bool, str]:
    """Make the connector's one cheap authenticated call and record the outcome. An account
    that works again resumes the connections that stopped because of it."""
    from integrations.connectors.accounts import connector_for
    from integrations.connectors.base import ConnectorError

    previous_status, previous_error = account.status, account.last_error
    try:
        info = connector_for(account).check()
    except ConnectorError as exc:
        status = (
            ConnectedAccount.Status.NEEDS_REAUTH
            if exc.reauthorize
            else ConnectedAccount.Status.ERROR
        )
        connected_account_mark(account=account, status=status, error=exc.message)
        if exc.reauthorize:
            from integrations.services.notifications import notify_account_needs_reauth

            notify_account_needs_reauth(account=account)
        return False, exc.message
    connected_account_mark(account=account, status=ConnectedAccount.Status.OK)
    if previous_status != ConnectedAccount.Status.OK:
        connections_resume_for_account(account=account, previous_error=previous_error)
    return True, f"verified as {info.label}"
