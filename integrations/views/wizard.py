"""The guided set-up, steps 1 to 3 (choose two apps, an account of each, a direction) and 7
(review with a dry run, then start syncing). Step 3 stores the connection as a Draft, so steps
4 to 7 edit a stored draft and nothing is lost when the user leaves halfway."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.models import ConnectedAccount, Workspace
from integrations import selectors, services
from integrations.catalog import standard_fields
from integrations.connectors.registry import APP_CHOICES, app_label
from integrations.forms import ConnectionForm
from integrations.models import Connection, SyncRun
from integrations.sync.records import CUSTOM_PREFIX, NAME
from integrations.views.common import managers_only, side_names

logger = logging.getLogger(__name__)

STEPS = (
    (1, "Apps"),
    (2, "Accounts"),
    (3, "Direction"),
    (4, "Rules"),
    (5, "Field mappings"),
    (6, "Options"),
    (7, "Review"),
)
STEP_URLS = {
    4: "integrations:connection_rules",
    5: "integrations:connection_mappings",
    6: "integrations:connection_options",
    7: "integrations:connection_review",
}
SAMPLE_SIZE = 10


def steps(current: int, connection: Connection | None = None) -> list[dict[str, Any]]:
    """The step list; steps 4 to 7 link to the stored draft."""
    return [
        {
            "number": number,
            "label": label,
            "current": number == current,
            "done": number < current,
            "url": reverse(STEP_URLS[number], kwargs={"pk": connection.pk})
            if connection is not None and number in STEP_URLS
            else "",
        }
        for number, label in STEPS
    ]


def _workspace(request: HttpRequest) -> Workspace | None:
    """The workspace new connections go to; ``Forbidden`` for a member who cannot add one."""
    workspace = selectors.current_workspace(request)
    if workspace is None:
        return None
    return selectors.workspace_get(user=request.user, workspace_id=workspace.pk, manage=True)


def _no_workspace(request: HttpRequest) -> HttpResponse:
    return render(request, "integrations/no_workspace.html", status=200)


# -- Step 1: two apps ---------------------------------------------------------------------------


class AppsForm(forms.Form):
    app_a = forms.ChoiceField(label="First app", choices=APP_CHOICES, widget=forms.RadioSelect)
    app_b = forms.ChoiceField(label="Second app", choices=APP_CHOICES, widget=forms.RadioSelect)


@login_required
@managers_only
def connection_new(request: HttpRequest) -> HttpResponse:
    workspace = _workspace(request)
    if workspace is None:
        return _no_workspace(request)
    submitted = "app_a" in request.GET or "app_b" in request.GET
    form = AppsForm(request.GET if submitted else None)
    if submitted and form.is_valid():
        query = urlencode(
            {"app_a": form.cleaned_data["app_a"], "app_b": form.cleaned_data["app_b"]}
        )
        return redirect(f"{reverse('integrations:connection_new_accounts')}?{query}")
    return render(
        request,
        "integrations/wizard_apps.html",
        {"form": form, "steps": steps(1), "workspace": workspace},
    )


# -- Step 2: an account of each app --------------------------------------------------------------


def _apps_from(request: HttpRequest) -> tuple[str, str] | None:
    form = AppsForm(request.GET)
    if not form.is_valid():
        return None
    return form.cleaned_data["app_a"], form.cleaned_data["app_b"]


def _account_choices(workspace: Workspace, app: str) -> list[ConnectedAccount]:
    # The newest first: coming back from authorizing a new account finds it chosen.
    return list(
        selectors.connected_accounts_for(workspace=workspace)
        .filter(app=app)
        .order_by("-created_at", "-id")
    )


def _account_label(account: ConnectedAccount) -> str:
    if account.status == ConnectedAccount.Status.OK:
        return account.label
    return f"{account.label} ({account.get_status_display().lower()})"


class AccountsForm(forms.Form):
    account_a = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect)
    account_b = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect)

    def __init__(
        self,
        *args: Any,
        accounts_a: list[ConnectedAccount],
        accounts_b: list[ConnectedAccount],
        names: tuple[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        for key, accounts, name in (
            ("account_a", accounts_a, names[0]),
            ("account_b", accounts_b, names[1]),
        ):
            field = self.fields[key]
            assert isinstance(field, forms.ChoiceField)
            field.choices = [(a.pk, _account_label(a)) for a in accounts]
            field.label = f"{name} account"
            field.error_messages["required"] = (
                f"Choose a {name} account, or authorize a new one."
                if accounts
                else f"Authorize a {name} account first."
            )
            if accounts and not self.is_bound:
                # Two accounts of one app: side B starts on the second newest.
                same_app = key == "account_b" and accounts_a and accounts_a[0].pk == accounts[0].pk
                pick = accounts[1] if same_app and len(accounts) > 1 else accounts[0]
                self.initial[key] = pick.pk

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("account_a") and data.get("account_a") == data.get("account_b"):
            self.add_error("account_b", "Choose two different accounts.")
        return data


@login_required
@managers_only
def connection_new_accounts(request: HttpRequest) -> HttpResponse:
    workspace = _workspace(request)
    if workspace is None:
        return _no_workspace(request)
    apps = _apps_from(request)
    if apps is None:
        messages.error(request, "Choose the two apps to connect first.")
        return redirect("integrations:connection_new")
    app_a, app_b = apps
    names = (app_label(app_a), app_label(app_b))
    if app_a == app_b:
        names = (f"First {names[0]}", f"Second {names[1]}")
    accounts_a = _account_choices(workspace, app_a)
    accounts_b = _account_choices(workspace, app_b)
    submitted = "account_a" in request.GET or "account_b" in request.GET
    form = AccountsForm(
        request.GET if submitted else None,
        accounts_a=accounts_a,
        accounts_b=accounts_b,
        names=names,
    )
    if submitted and form.is_valid():
        query = urlencode(
            {
                "account_a": form.cleaned_data["account_a"],
                "account_b": form.cleaned_data["account_b"],
            }
        )
        return redirect(f"{reverse('integrations:connection_new_direction')}?{query}")
    here = f"{request.path}?{urlencode({'app_a': app_a, 'app_b': app_b})}"
    sides = [
        {
            "field": form["account_a"],
            "app": app_a,
            "name": names[0],
            "app_name": app_label(app_a),
            "accounts": accounts_a,
            "authorize_url": _authorize_url(app_a, here),
        },
        {
            "field": form["account_b"],
            "app": app_b,
            "name": names[1],
            "app_name": app_label(app_b),
            "accounts": accounts_b,
            "authorize_url": _authorize_url(app_b, here),
        },
    ]
    return render(
        request,
        "integrations/wizard_accounts.html",
        {"form": form, "sides": sides, "app_a": app_a, "app_b": app_b, "steps": steps(2)},
    )


def _authorize_url(app: str, back: str) -> str:
    return f"{reverse('accounts:connected_account_new', kwargs={'app': app})}?" + urlencode(
        {"next": back}
    )


# -- Step 3: direction, then the draft ------------------------------------------------------------


def _account_from(request: HttpRequest, key: str) -> ConnectedAccount:
    account_id = request.GET.get(key) or request.POST.get(key)
    return selectors.connected_account_get(user=request.user, account_id=account_id, manage=True)


@login_required
@require_http_methods(["GET", "POST"])
@managers_only
def connection_new_direction(request: HttpRequest) -> HttpResponse:
    account_a = _account_from(request, "account_a")
    account_b = _account_from(request, "account_b")
    if account_a.workspace_id != account_b.workspace_id:
        raise Http404("Not found.")
    workspace = account_a.workspace
    names = {"a": account_a.app_name, "b": account_b.app_name}
    if account_a.app == account_b.app:
        names = {"a": f"{names['a']} ({account_a.label})", "b": f"{names['b']} ({account_b.label})"}
    form = ConnectionForm(
        request.POST if request.method == "POST" else None,
        workspace=workspace,
        account_a=account_a,
        account_b=account_b,
        start=False,
    )
    direction = form.fields["direction"]
    assert isinstance(direction, forms.ChoiceField)
    direction.widget = forms.RadioSelect()
    direction.choices = [
        (Connection.Direction.TWO_WAY, f"Two-way: {names['a']} ⇄ {names['b']}"),
        (Connection.Direction.A_TO_B, f"One way: {names['a']} → {names['b']}"),
        (Connection.Direction.B_TO_A, f"One way: {names['b']} → {names['a']}"),
    ]
    direction.label = "Which way do contacts flow?"
    form.fields["name"].label = "Name (optional)"
    form.fields["name"].help_text = "Shown in your list of connections."
    if not form.is_bound:
        form.initial["direction"] = Connection.Direction.TWO_WAY
    if request.method == "POST" and form.is_valid():
        try:
            connection = form.save()
        except ValidationError as exc:
            _errors_onto(form, exc)
        else:
            messages.success(
                request,
                "Saved as a draft. Nothing syncs until you start it in the last step.",
            )
            return redirect("integrations:connection_rules", pk=connection.pk)
    back = f"{reverse('integrations:connection_new_accounts')}?" + urlencode(
        {"app_a": account_a.app, "app_b": account_b.app}
    )
    return render(
        request,
        "integrations/wizard_direction.html",
        {
            "form": form,
            "account_a": account_a,
            "account_b": account_b,
            "names": names,
            "back_url": back,
            "steps": steps(3),
        },
    )


def _errors_onto(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        for error in exc.messages:
            form.add_error(None, error)


# -- Step 7: review -------------------------------------------------------------------------------


def _plan_view(connection: Connection, run: SyncRun) -> dict[str, Any]:
    plan = run.plan or {}
    counts = plan.get("counts") or {}
    names = side_names(connection)

    def side(key: str) -> dict[str, Any]:
        items = plan.get(key) or {}
        label = _labeller(connection.account(key).app)
        updates = []
        for item in (items.get("update") or [])[:SAMPLE_SIZE]:
            updates.append(
                {
                    "id": item.get("id"),
                    "fields": [
                        {
                            "field": label(field),
                            "before": _show(change.get("before")),
                            "after": _show(change.get("after")),
                        }
                        for field, change in (item.get("fields") or {}).items()
                        if isinstance(change, dict)
                    ],
                }
            )
        creates = [
            {
                "source_id": item.get("source_id"),
                "values": [
                    (label(field), _show(value))
                    for field, value in (item.get("values") or {}).items()
                    if _show(value) != EMPTY
                ],
            }
            for item in (items.get("create") or [])[:SAMPLE_SIZE]
        ]
        return {
            "name": names[key],
            "created": counts.get(f"created_{key}", 0),
            "updated": counts.get(f"updated_{key}", 0),
            "tagged": counts.get(f"tagged_{key}", 0),
            "creates": creates,
            "updates": updates,
        }

    return {
        "run": run,
        "phase": plan.get("phase", ""),
        "sides": [side("a"), side("b")],
        "linked": counts.get("linked", 0),
        "excluded": counts.get("excluded", 0),
        "duplicates": counts.get("duplicates", 0),
        "conflicts": counts.get("conflicts", 0),
        "failed": counts.get("failed", 0),
        "breaker": plan.get("breaker", ""),
        "truncated": bool(plan.get("truncated")),
    }


EMPTY = "(empty)"


def _labeller(app: str) -> Callable[[str], str]:
    """Field keys of a plan as the app's labels (custom fields by their own name)."""
    known = {spec.key: spec.label for spec in standard_fields(app)}
    known[NAME] = "Name"

    def label(key: str) -> str:
        if key in known:
            return known[key]
        return key[len(CUSTOM_PREFIX) :] if key.startswith(CUSTOM_PREFIX) else key

    return label


def _show(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return EMPTY
    if isinstance(value, dict):
        return " ".join(str(v) for v in value.values() if v not in (None, ""))
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    return str(value)


def _latest_dry_run(connection: Connection) -> SyncRun | None:
    return (
        SyncRun.objects.filter(connection=connection, dry_run=True)
        .order_by("-started_at", "-id")
        .first()
    )


@login_required
@require_http_methods(["GET", "POST"])
@managers_only
def connection_review(request: HttpRequest, pk: int) -> HttpResponse:
    connection = selectors.connection_get(user=request.user, connection_id=pk, manage=True)
    if request.method == "POST":
        if "start" in request.POST:
            return _start(request, connection)
        _dry_run(request, connection)
        return redirect("integrations:connection_review", pk=connection.pk)
    run = _latest_dry_run(connection)
    return render(
        request,
        "integrations/wizard_review.html",
        {
            "connection": connection,
            "names": side_names(connection),
            "preview": _plan_view(connection, run) if run and run.outcome != "failed" else None,
            "failed_run": run if run and run.outcome == SyncRun.Outcome.FAILED else None,
            "is_draft": connection.status == Connection.Status.DRAFT,
            "can_start": connection.status not in Connection.RUNNABLE,
            "steps": steps(7, connection),
        },
    )


def _dry_run(request: HttpRequest, connection: Connection) -> None:
    try:
        run = services.connection_sync(connection_id=connection.pk, dry_run=True)
    except Exception:
        # The run is already marked failed; the user gets words, the log the traceback.
        logger.exception("connection %s: dry run failed", connection.pk)
        messages.error(request, "The preview failed for an internal reason; try again later.")
        return
    if run is None or run.outcome == SyncRun.Outcome.FAILED:
        reason = run.error if run is not None else "another run is busy"
        messages.error(request, f"The preview could not read both apps: {reason}")
    else:
        messages.success(request, "Preview ready: this is what the first sync will do.")


def _start(request: HttpRequest, connection: Connection) -> HttpResponse:
    if connection.status in Connection.RUNNABLE:
        messages.info(request, "This connection is already syncing.")
        return redirect("integrations:connection_detail", pk=connection.pk)
    services.connection_resume(connection=connection)
    try:
        services.connection_sync_now(connection=connection)
    except services.ConnectionNotRunnable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Syncing started: Tandem scans both apps first.")
    return redirect("integrations:connection_detail", pk=connection.pk)
