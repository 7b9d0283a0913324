"""Customer pages: sign-up, log-in, password reset, the team, connected accounts.

Thin views: reads through ``integrations.selectors`` (scoped to the user's workspaces, another
workspace's id answers 404), writes through ``accounts.services``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from accounts import services
from accounts.forms import (
    CredentialsForm,
    InvitationForm,
    InvitationSignupForm,
    LoginThrottle,
    SignupForm,
    ThrottledLoginForm,
)
from accounts.models import ConnectedAccount, Invitation, Membership, User, Workspace
from integrations import selectors
from integrations.connectors.registry import APP_CHOICES, CONNECTORS, app_label, connector_class

BACKEND = "django.contrib.auth.backends.ModelBackend"


# ---- helpers ----------------------------------------------------------------------------------


def safe_next(request: HttpRequest, default: str = "") -> str:
    """``next`` (from the form, else the query) when it is a local URL, else ``default``.
    Only a path is local: ``redirect()`` takes any other word for a view's name."""
    candidate = str(request.POST.get("next") or request.GET.get("next") or "")
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def _forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    return render(request, "accounts/forbidden.html", {"reason": reason}, status=403)


def _set_current(request: HttpRequest, workspace: Workspace) -> None:
    request.session[selectors.CURRENT_WORKSPACE_KEY] = int(workspace.pk)


def oauth_start_url(app: str) -> str:
    """Where authorizing an account of an app that declares OAuth starts, or "" for an app
    whose credentials are typed in."""
    try:
        uses_oauth = connector_class(app).capabilities.uses_oauth
    except LookupError:
        return ""
    return reverse("connectors:connect", args=[app]) if uses_oauth else ""


def credentials_form_offered(app: str) -> bool:
    """An app whose accounts can be connected by typing credentials (alone or beside OAuth)."""
    try:
        return connector_class(app).capabilities.uses_credentials_form
    except LookupError:
        return False


def credentials_form_name(app: str) -> str:
    """What the credentials form of an app that also offers OAuth asks for, for the "or use
    ..." line: its first required field ("a private app access token", "an API key")."""
    try:
        fields = connector_class(app).form_fields()
    except LookupError:
        return ""
    label = next((spec.label for spec in fields if spec.required), "")
    if not label:
        return ""
    if not label[:2].isupper():
        label = label[0].lower() + label[1:]
    return ("an " if label[0].casefold() in "aeiou" else "a ") + label


def _oauth_url(app: str, *, workspace: Workspace, account: Any = None, next_url: str = "") -> str:
    query: dict[str, Any] = {"workspace": workspace.pk}
    if account is not None:
        query["account"] = account.pk
    if next_url:
        query["next"] = next_url
    return f"{oauth_start_url(app)}?{urlencode(query)}"


def _no_workspace(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/no_workspace.html", status=200)


# ---- sign-up, log-in, log-out, password reset -------------------------------------------------


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("integrations:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_signup(
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                workspace_name=form.cleaned_data["workspace_name"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            login(request, user, backend=BACKEND)
            workspace = selectors.workspaces_for_user(user=user).first()
            if workspace is not None:
                _set_current(request, workspace)
            messages.success(request, "Welcome to Tandem. Connect your first apps.")
            return redirect("integrations:home")
    return render(request, "accounts/signup.html", {"form": form})


def _add_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class LoginView(auth_views.LoginView):
    form_class = ThrottledLoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # Whoever guessed at this email locked it; its owner just proved they hold the mailbox.
        LoginThrottle(email=str(form.user.email), ip="").succeeded()
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


# ---- workspaces and the team ------------------------------------------------------------------


@login_required
@require_POST
def workspace_switch(request: HttpRequest) -> HttpResponse:
    workspace = selectors.workspace_get(
        user=request.user, workspace_id=request.POST.get("workspace")
    )
    _set_current(request, workspace)
    messages.success(request, f"Now working in {workspace.name}.")
    return redirect(safe_next(request, reverse("integrations:home")))


@login_required
@require_POST
def workspace_new(request: HttpRequest) -> HttpResponse:
    name = str(request.POST.get("name") or "")
    assert isinstance(request.user, User)
    try:
        # The service refuses an empty or over-long name, or one the database cannot hold, with
        # the reason: none is cut short behind the user's back.
        workspace = services.workspace_create(name=name, owner=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(safe_next(request, reverse("accounts:team")))
    _set_current(request, workspace)
    messages.success(request, f"Created the workspace {workspace.name}.")
    return redirect("accounts:team")


@login_required
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    workspace = selectors.current_workspace(request)
    if workspace is None:
        return _no_workspace(request)
    user = request.user
    assert isinstance(user, User)
    manager = selectors.can_manage(user=user, workspace=workspace)
    is_owner = Membership.objects.filter(
        workspace=workspace, user=user, role=Membership.Role.OWNER
    ).exists()
    form = InvitationForm(request.POST or None, can_invite_owner=is_owner)
    if request.method == "POST":
        if not manager:
            return _forbidden(request, f"Only owners and admins of {workspace.name} can invite.")
        if form.is_valid():
            try:
                sent = services.invitation_create(
                    workspace=workspace,
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    invited_by=user,
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, f"Invitation sent to {sent.invitation.email}.")
                return redirect("accounts:team")
    members = (
        Membership.objects.filter(workspace=workspace)
        .select_related("user")
        .order_by("user__email")
    )
    invitations = (
        Invitation.objects.filter(workspace=workspace, accepted_at__isnull=True)
        .select_related("invited_by")
        .order_by("email")
        if manager
        else Invitation.objects.none()
    )
    return render(
        request,
        "accounts/team.html",
        {
            "workspace": workspace,
            "members": members,
            "invitations": invitations,
            "form": form,
            "can_manage": manager,
        },
    )


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = (
        Invitation.objects.filter(pk=pk, workspace__memberships__user_id=request.user.pk or 0)
        .select_related("workspace")
        .first()
    )
    if invitation is None:
        raise Http404("No such invitation.")
    if not selectors.can_manage(user=request.user, workspace=invitation.workspace):
        return _forbidden(
            request, f"Only owners and admins of {invitation.workspace.name} can do this."
        )
    services.invitation_revoke(invitation=invitation)
    messages.success(request, f"Invitation to {invitation.email} withdrawn.")
    return redirect("accounts:team")


@sensitive_variables("token")
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = (
        Invitation.objects.filter(token_hash=services.invitation_token_hash(token))
        .select_related("workspace", "invited_by")
        .first()
    )
    if invitation is None:
        return render(request, "accounts/invite_invalid.html", status=404)
    if not invitation.is_pending:
        return render(request, "accounts/invite_invalid.html", status=410)
    context: dict[str, Any] = {"invitation": invitation}
    if request.user.is_authenticated:
        assert isinstance(request.user, User)
        if request.method == "POST":
            try:
                services.invitation_accept(invitation=invitation, user=request.user)
            except ValidationError:
                return render(request, "accounts/invite_invalid.html", status=410)
            _set_current(request, invitation.workspace)
            messages.success(request, f"You joined {invitation.workspace.name}.")
            return redirect("integrations:home")
        return render(request, "accounts/invite_accept.html", context)
    if User.objects.filter(email__iexact=invitation.email).exists():
        context["login_url"] = (
            reverse("accounts:login") + "?" + urlencode({"next": request.get_full_path()})
        )
        return render(request, "accounts/invite_accept.html", context)
    form = InvitationSignupForm(request.POST or None, invitation=invitation)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_signup(
                invitation=invitation,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            login(request, user, backend=BACKEND)
            _set_current(request, invitation.workspace)
            messages.success(request, f"Welcome to {invitation.workspace.name} on Tandem.")
            return redirect("integrations:home")
    context["form"] = form
    return render(request, "accounts/invite_accept.html", context)


# ---- connected accounts -----------------------------------------------------------------------


@login_required
def connected_accounts(request: HttpRequest) -> HttpResponse:
    workspace = selectors.current_workspace(request)
    if workspace is None:
        return _no_workspace(request)
    accounts = list(selectors.connected_accounts_for(workspace=workspace))
    using: dict[int, list[Any]] = defaultdict(list)
    for connection in selectors.connections_for(workspace=workspace):
        for account_id in {connection.account_a_id, connection.account_b_id}:
            using[account_id].append(connection)
    from integrations.webhooks.services import webhooks_modes

    modes = webhooks_modes(accounts=accounts)
    rows = [
        {
            "account": account,
            "state": account_state(account),
            "connections": using[account.pk],
            "changes": modes[account.pk],
        }
        for account in accounts
    ]
    apps = [
        {
            "slug": slug,
            "name": name,
            "oauth_url": _app_oauth_url(slug, workspace),
            "form_name": credentials_form_name(slug) if credentials_form_offered(slug) else "",
        }
        for slug, name in APP_CHOICES
    ]
    return render(
        request,
        "accounts/connected_accounts.html",
        {
            "workspace": workspace,
            "rows": rows,
            "apps": apps,
            "can_manage": selectors.can_manage(user=request.user, workspace=workspace),
        },
    )


def _app_oauth_url(slug: str, workspace: Workspace) -> str:
    return _oauth_url(slug, workspace=workspace) if oauth_start_url(slug) else ""


def account_state(account: ConnectedAccount) -> dict[str, str]:
    """The account's status in words, with what to do about it."""
    if account.status == ConnectedAccount.Status.NEEDS_REAUTH:
        return {
            "label": "Authentication failed",
            "tone": "bad",
            "reason": (
                f"Tandem could not sign in to {account.app_name}"
                + (f" ({account.last_error})" if account.last_error else "")
                + ". Re-authorize the account; its connections resume by themselves."
            ),
        }
    if account.status == ConnectedAccount.Status.ERROR:
        return {"label": "Error", "tone": "bad", "reason": account.last_error or "No reason given."}
    return {"label": "OK", "tone": "ok", "reason": ""}


def _managed_workspace(request: HttpRequest) -> Workspace | HttpResponse:
    workspace = selectors.current_workspace(request)
    if workspace is None:
        return _no_workspace(request)
    try:
        return selectors.workspace_get(user=request.user, workspace_id=workspace.pk, manage=True)
    except selectors.Forbidden as exc:
        return _forbidden(request, str(exc))


@sensitive_post_parameters()
@sensitive_variables("form", "credentials")
@login_required
@require_http_methods(["GET", "POST"])
def connected_account_new(request: HttpRequest, app: str) -> HttpResponse:
    if app not in CONNECTORS:
        raise Http404("No such app.")
    found = _managed_workspace(request)
    if isinstance(found, HttpResponse):
        return found
    workspace = found
    next_url = safe_next(request)
    context: dict[str, Any] = {
        "workspace": workspace,
        "app": app,
        "app_name": app_label(app),
        "next": next_url,
        "account": None,
    }
    if oauth_start_url(app):
        context["oauth_url"] = _oauth_url(app, workspace=workspace, next_url=next_url)
    if not credentials_form_offered(app):
        return render(request, "accounts/connected_account_form.html", context)
    context["form_name"] = credentials_form_name(app)
    form = CredentialsForm(request.POST or None, app=app)
    if request.method == "POST" and form.is_valid():
        credentials = form.credentials()
        try:
            account = services.connected_account_authorize(
                workspace=workspace, app=app, credentials=credentials
            )
        except ValidationError as exc:
            form.add_problem(exc)
        else:
            messages.success(request, f"{account.app_name}: connected {account.label}.")
            return redirect(next_url or reverse("accounts:connected_accounts"))
    context["form"] = form
    return render(request, "accounts/connected_account_form.html", context)


@sensitive_post_parameters()
@sensitive_variables("form", "credentials")
@login_required
@require_http_methods(["GET", "POST"])
def connected_account_reauthorize(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        account = selectors.connected_account_get(user=request.user, account_id=pk, manage=True)
    except selectors.Forbidden as exc:
        return _forbidden(request, str(exc))
    next_url = safe_next(request)
    context: dict[str, Any] = {
        "workspace": account.workspace,
        "app": account.app,
        "app_name": account.app_name,
        "next": next_url,
        "account": account,
        "state": account_state(account),
    }
    if oauth_start_url(account.app):
        context["oauth_url"] = _oauth_url(
            account.app, workspace=account.workspace, account=account, next_url=next_url
        )
    if not credentials_form_offered(account.app):
        return render(request, "accounts/connected_account_form.html", context)
    context["form_name"] = credentials_form_name(account.app)
    form = CredentialsForm(request.POST or None, app=account.app, account=account)
    if request.method == "POST" and form.is_valid():
        credentials = form.credentials()
        try:
            account = services.connected_account_authorize(
                workspace=account.workspace,
                app=account.app,
                credentials=credentials,
                account=account,
            )
        except ValidationError as exc:
            form.add_problem(exc)
        else:
            messages.success(request, f"{account.app_name}: {account.label} is authorized again.")
            return redirect(next_url or reverse("accounts:connected_accounts"))
    context["form"] = form
    return render(request, "accounts/connected_account_form.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def connected_account_disconnect(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        account = selectors.connected_account_get(user=request.user, account_id=pk, manage=True)
    except selectors.Forbidden as exc:
        return _forbidden(request, str(exc))
    if request.method == "POST":
        try:
            services.connected_account_disconnect(account=account)
        except services.AccountInUse as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{account.app_name}: disconnected {account.label}.")
        return redirect(safe_next(request, reverse("accounts:connected_accounts")))
    return render(
        request,
        "accounts/connected_account_disconnect.html",
        {
            "account": account,
            "connections": list(selectors.connections_using(account=account)),
            "next": safe_next(request),
        },
    )
