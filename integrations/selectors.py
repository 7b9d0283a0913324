"""Reads for the customer pages, scoped to the user's workspaces in one place.

Every page that takes a workspace, account or connection id looks it up here: an object of a
workspace the user is not a member of answers 404, exactly like one that does not exist, so ids
tell an outsider nothing. Writes need the ``owner`` or ``admin`` role (``manage=True``);
members may look.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from accounts.models import ConnectedAccount, Membership, User, Workspace
from integrations.models import Connection, RecordIssue, RunNote, SyncRun

CURRENT_WORKSPACE_KEY = "tandem_workspace"
MANAGER_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)
# This many real runs failing in a row make a connection "Needs attention" even when its stored
# status still says it is active.
FAILURES_FOR_ATTENTION = 1


class Forbidden(Exception):
    """The user may see this object but not change it (a member, not an owner or admin)."""


def _user_id(user: Any) -> int:
    return int(user.pk) if getattr(user, "is_authenticated", False) and user.pk else 0


def workspaces_for_user(*, user: User | Any) -> QuerySet[Workspace]:
    return Workspace.objects.filter(memberships__user_id=_user_id(user)).order_by("name", "id")


def membership_get(*, user: User | Any, workspace: Workspace) -> Membership:
    membership = Membership.objects.filter(user_id=_user_id(user), workspace=workspace).first()
    if membership is None:
        raise Http404("No such workspace.")
    return membership


def workspace_get(*, user: User | Any, workspace_id: object, manage: bool = False) -> Workspace:
    """The workspace ``workspace_id`` if ``user`` is a member (with a managing role when
    ``manage``), else 404 (or ``Forbidden`` for a member without the role)."""
    try:
        pk = int(str(workspace_id))
    except (TypeError, ValueError):
        raise Http404("No such workspace.") from None
    workspace = workspaces_for_user(user=user).filter(pk=pk).first()
    if workspace is None:
        raise Http404("No such workspace.")
    if manage:
        _require_manager(user, workspace)
    return workspace


def _require_manager(user: User | Any, workspace: Workspace) -> None:
    if membership_get(user=user, workspace=workspace).role not in MANAGER_ROLES:
        raise Forbidden(f"Only owners and admins of {workspace.name} can change this.")


def can_manage(*, user: User | Any, workspace: Workspace) -> bool:
    return Membership.objects.filter(
        user_id=_user_id(user), workspace=workspace, role__in=MANAGER_ROLES
    ).exists()


def current_workspace(request: HttpRequest) -> Workspace | None:
    """The workspace the user last chose (kept in the session), else their first one."""
    workspaces = workspaces_for_user(user=request.user)
    chosen = request.session.get(CURRENT_WORKSPACE_KEY)
    workspace = workspaces.filter(pk=chosen).first() if isinstance(chosen, int) else None
    return workspace or workspaces.first()


def connected_accounts_for(*, workspace: Workspace) -> QuerySet[ConnectedAccount]:
    return ConnectedAccount.objects.filter(workspace=workspace).order_by("app", "label", "id")


def connected_account_get(
    *, user: User | Any, account_id: object, manage: bool = False
) -> ConnectedAccount:
    account = _scoped(ConnectedAccount.objects.select_related("workspace"), user, account_id)
    if manage:
        _require_manager(user, account.workspace)
    return account


def connections_for(*, workspace: Workspace) -> QuerySet[Connection]:
    return (
        Connection.objects.filter(workspace=workspace)
        .select_related("account_a", "account_b")
        .order_by("name", "id")
    )


def connections_using(*, account: ConnectedAccount) -> QuerySet[Connection]:
    return Connection.objects.filter(Q(account_a=account) | Q(account_b=account)).order_by("id")


def connection_get(*, user: User | Any, connection_id: object, manage: bool = False) -> Connection:
    connection = _scoped(
        Connection.objects.select_related("workspace", "account_a", "account_b"),
        user,
        connection_id,
    )
    if manage:
        _require_manager(user, connection.workspace)
    return connection


def _scoped(queryset: QuerySet[Any], user: User | Any, object_id: object) -> Any:
    try:
        pk = int(str(object_id))
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    found = queryset.filter(pk=pk, workspace__memberships__user_id=_user_id(user)).first()
    if found is None:
        raise Http404("Not found.")
    return found


def connection_runs(*, connection: Connection, limit: int = 50) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(connection=connection).order_by("-started_at", "-id")[:limit]


def connection_latest_scan(*, connection: Connection) -> SyncRun | None:
    """The latest real scan that finished: the connection's "excluded" and "duplicates" health
    counters are its counts."""
    return (
        SyncRun.objects.filter(
            connection=connection,
            dry_run=False,
            phase=SyncRun.Phase.SCAN,
            outcome__in=[SyncRun.Outcome.SUCCESS, SyncRun.Outcome.PARTIAL],
        )
        .order_by("-started_at", "-id")
        .first()
    )


def run_notes(*, run: SyncRun, kind: str, limit: int = 100) -> QuerySet[RunNote]:
    return RunNote.objects.filter(run=run, kind=kind).order_by("id")[:limit]


def connection_open_issues(*, connection: Connection) -> QuerySet[RecordIssue]:
    return RecordIssue.objects.filter(connection=connection, resolved_at__isnull=True).order_by(
        "reason", "record_id"
    )


@dataclass(frozen=True)
class ConnectionState:
    """What a connection is doing, in words, derived from facts: its pause, its accounts and
    its latest runs. ``tone`` is one of ``ok``, ``busy``, ``paused``, ``bad``."""

    label: str
    tone: str
    reason: str = ""


def connection_state(*, connection: Connection) -> ConnectionState:
    status = connection.status
    accounts = [connection.account_a, connection.account_b]
    failing_account = next(
        (a for a in accounts if a.status == ConnectedAccount.Status.NEEDS_REAUTH), None
    )
    if status == Connection.Status.NEEDS_REAUTH or failing_account is not None:
        who = failing_account or next(
            (a for a in accounts if a.status != ConnectedAccount.Status.OK), None
        )
        what = f"{who.app_name} account {who.label}" if who else "one of the accounts"
        return ConnectionState(
            "Authentication failed",
            "bad",
            f"Tandem could not sign in to the {what}. Authorize it again to resume syncing."
            + (f" ({connection.status_reason})" if connection.status_reason else ""),
        )
    if status == Connection.Status.PAUSED:
        return ConnectionState("Paused", "paused", connection.status_reason)
    if status == Connection.Status.DRAFT:
        return ConnectionState("Draft", "paused", "Finish the set-up and start syncing.")
    if status == Connection.Status.ERROR:
        return ConnectionState("Needs attention", "bad", connection.status_reason)
    real_runs = SyncRun.objects.filter(connection=connection, dry_run=False).order_by(
        "-started_at", "-id"
    )
    latest = list(real_runs[: max(FAILURES_FOR_ATTENTION, 1) + 1])
    if latest and latest[0].outcome == SyncRun.Outcome.RUNNING:
        scanning = status == Connection.Status.SCANNING or latest[0].phase == SyncRun.Phase.SCAN
        return ConnectionState("Scanning" if scanning else "Syncing", "busy")
    finished = [run for run in latest if run.outcome != SyncRun.Outcome.RUNNING]
    recent = finished[:FAILURES_FOR_ATTENTION]
    if len(recent) == FAILURES_FOR_ATTENTION and all(
        run.outcome == SyncRun.Outcome.FAILED for run in recent
    ):
        return ConnectionState(
            "Needs attention", "bad", f"The last run failed: {recent[0].error or 'no reason'}"
        )
    if status == Connection.Status.SCANNING:
        return ConnectionState("Scanning", "busy", "The first scan of both apps is due.")
    return ConnectionState("Active and listening for changes", "ok")
