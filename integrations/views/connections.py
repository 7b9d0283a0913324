"""The connections list and one connection's page, with its pause / resume / sync now /
re-scan / delete buttons (POST only, owners and admins only)."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import ConnectedAccount
from integrations import selectors, services
from integrations.models import Connection, RecordIssue, RunNote, Side
from integrations.services.connections import connection_delete
from integrations.views.charts import run_chart
from integrations.views.common import (
    direction_words,
    managers_only,
    side_name,
    side_names,
)


def health_summary(connection: Connection) -> dict[str, Any]:
    health = connection.health or {}
    failed = health.get("failed") or {}
    failed_total = sum(failed.values()) if isinstance(failed, dict) else int(failed or 0)
    return {
        "known": bool(health),
        "in_sync": int(health.get("in_sync") or 0),
        "excluded": int(health.get("excluded") or 0),
        "duplicates": int(health.get("duplicates") or 0),
        "failed": failed_total,
    }


@login_required
def home(request: HttpRequest) -> HttpResponse:
    workspace = selectors.current_workspace(request)
    rows = []
    if workspace is not None:
        for connection in selectors.connections_for(workspace=workspace):
            last_run = selectors.connection_runs(connection=connection, limit=1).first()
            rows.append(
                {
                    "connection": connection,
                    "names": side_names(connection),
                    "direction": direction_words(connection),
                    "state": selectors.connection_state(connection=connection),
                    "health": health_summary(connection),
                    "last_run": last_run,
                }
            )
    return render(
        request,
        "integrations/home.html",
        {
            "workspace": workspace,
            "rows": rows,
            "can_manage": workspace is not None
            and selectors.can_manage(user=request.user, workspace=workspace),
        },
    )


# The contacts behind the "excluded" and "duplicates" counters shown on the page, at most.
SCAN_NOTES_SHOWN = 100


def _scan_notes(connection: Connection) -> dict[str, Any]:
    """The latest scan's excluded contacts and duplicates, each with its reason."""
    scan = selectors.connection_latest_scan(connection=connection)
    if scan is None:
        return {}
    found: dict[str, Any] = {"run": scan}
    for key, kind, total in (
        ("excluded", RunNote.Kind.EXCLUDED, scan.excluded),
        ("duplicates", RunNote.Kind.DUPLICATE, scan.duplicates),
    ):
        notes = selectors.run_notes(run=scan, kind=kind, limit=SCAN_NOTES_SHOWN)
        rows = [{"note": note, "app": side_name(connection, note.side)} for note in notes]
        found[key] = {"rows": rows, "total": total, "more": max(0, total - len(rows))}
    return found


def _issue_groups(connection: Connection) -> list[dict[str, Any]]:
    issues = list(selectors.connection_open_issues(connection=connection))
    groups = []
    for reason, found in itertools.groupby(issues, key=lambda issue: issue.reason):
        items: list[RecordIssue] = list(found)
        groups.append(
            {
                "reason": reason,
                "issues": [
                    {
                        "issue": issue,
                        "side": side_name(connection, issue.side),
                        "target": side_name(connection, issue.target),
                    }
                    for issue in items
                ],
            }
        )
    return groups


@login_required
def connection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    connection = selectors.connection_get(user=request.user, connection_id=pk)
    state = selectors.connection_state(connection=connection)
    runs = list(selectors.connection_runs(connection=connection, limit=50))
    reauthorize = [
        account
        for account in (connection.account_a, connection.account_b)
        if account.status != ConnectedAccount.Status.OK
    ]
    return render(
        request,
        "integrations/connection_detail.html",
        {
            "connection": connection,
            "names": side_names(connection),
            "direction": direction_words(connection),
            "winner": side_name(connection, connection.winner),
            "state": state,
            "health": health_summary(connection),
            "issue_groups": _issue_groups(connection),
            "scan_notes": _scan_notes(connection),
            "runs": runs,
            "chart": run_chart(runs),
            "reauthorize": reauthorize if state.tone == "bad" else [],
            "can_manage": selectors.can_manage(user=request.user, workspace=connection.workspace),
            "is_draft": connection.status == Connection.Status.DRAFT,
            "is_paused": connection.status
            in (Connection.Status.PAUSED, Connection.Status.ERROR, Connection.Status.NEEDS_REAUTH),
            "sides": (Side.A, Side.B),
        },
    )


def _managed(request: HttpRequest, pk: int) -> Connection:
    return selectors.connection_get(user=request.user, connection_id=pk, manage=True)


@login_required
@require_POST
@managers_only
def connection_pause(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _managed(request, pk)
    services.connection_pause(
        connection=connection, reason=f"Paused by {request.user.get_username()}."
    )
    messages.success(request, "Paused. Nothing syncs until you resume.")
    return redirect("integrations:connection_detail", pk=connection.pk)


@login_required
@require_POST
@managers_only
def connection_resume(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _managed(request, pk)
    if connection.status == Connection.Status.DRAFT:
        messages.error(request, "Review the set-up and start syncing from its last step.")
        return redirect("integrations:connection_review", pk=connection.pk)
    services.connection_resume(connection=connection)
    services.connection_sync_now(connection=connection)
    messages.success(request, "Resumed: syncing now.")
    return redirect("integrations:connection_detail", pk=connection.pk)


@login_required
@require_POST
@managers_only
def connection_sync_now(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _managed(request, pk)
    try:
        services.connection_sync_now(connection=connection)
    except services.ConnectionNotRunnable:
        state = selectors.connection_state(connection=connection)
        messages.error(request, f"This connection cannot sync now: it is {state.label.lower()}.")
    else:
        messages.success(request, "A sync run has started.")
    return redirect("integrations:connection_detail", pk=connection.pk)


@login_required
@require_POST
@managers_only
def connection_rescan(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _managed(request, pk)
    if connection.status == Connection.Status.DRAFT:
        messages.error(request, "A draft has not scanned yet: start syncing first.")
        return redirect("integrations:connection_detail", pk=connection.pk)
    services.connection_resync(connection=connection)
    services.connection_sync_now(connection=connection)
    messages.success(
        request, "Re-scanning both apps; contacts already linked are not created again."
    )
    return redirect("integrations:connection_detail", pk=connection.pk)


@login_required
@require_http_methods(["GET", "POST"])
@managers_only
def connection_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    connection = _managed(request, pk)
    if request.method == "POST":
        name = str(connection)
        connection_delete(connection=connection)
        messages.success(
            request, f"Deleted {name}. The contacts in both apps and the accounts are untouched."
        )
        return redirect("integrations:home")
    return render(
        request,
        "integrations/connection_delete.html",
        {"connection": connection, "names": side_names(connection)},
    )
