"""Connecting an account of an app that declares OAuth 2.0 (``Capabilities.oauth``, alone or
beside a credentials form): the authorization-code flow, the same for every such app, by its
slug.

``connect`` (``/connect/<app>/[?workspace=<id>][&account=<id>][&next=<local url>]``) sends the
user to the app's consent page with a random ``state`` kept in the session, bound to the user.
The workspace is the user's current one unless ``workspace`` names another; either way the user
must be its owner or admin (staff status grants nothing here). ``callback`` checks that state and
the membership again, trades the code for tokens, asks the connector who the tokens belong to
(``check()``), stores the tokens encrypted on the workspace's connected account and returns the
user to ``next`` or the connected accounts page. Re-authorizing an account (``account=``) refuses
tokens of another identity.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from accounts.models import ConnectedAccount, Workspace
from accounts.services import connected_account_other_app_account, connected_account_upsert
from accounts.views import safe_next
from integrations import selectors
from integrations.connectors import oauth
from integrations.connectors.base import ACCOUNT_ID_KEY, Connector, ConnectorError, OAuth2
from integrations.connectors.http import HttpClient
from integrations.connectors.registry import connector_class


def session_key(app: str) -> str:
    return f"{app}_oauth"


def _oauth_app(app: str) -> tuple[type[Connector], OAuth2]:
    """The connector of ``app`` and its OAuth declaration; 404 for an app without either."""
    try:
        cls = connector_class(app)
    except LookupError:
        raise Http404("No such app.") from None
    spec = cls.capabilities.oauth
    if not cls.capabilities.uses_oauth or spec is None:
        raise Http404(f"{cls.name} accounts are not connected through a consent page.")
    return cls, spec


def _workspace_for(request: HttpRequest, workspace_id: object) -> Workspace:
    """The workspace to connect into: ``workspace_id`` or the current one, of which the user
    must be an owner or admin (404 for a workspace they are not in, ``Forbidden`` otherwise)."""
    if workspace_id in (None, ""):
        current = selectors.current_workspace(request)
        if current is None:
            raise Http404("No workspace to connect an account to.")
        workspace_id = current.pk
    return selectors.workspace_get(user=request.user, workspace_id=workspace_id, manage=True)


def redirect_uri(app: str) -> str:
    """Where the app sends the user back: register exactly this URL with the app."""
    return settings.SITE_URL.rstrip("/") + reverse("connectors:callback", args=[app])


def _back(next_url: object) -> HttpResponse:
    return redirect(str(next_url or "") or reverse("accounts:connected_accounts"))


def _forbidden(request: HttpRequest, exc: selectors.Forbidden) -> HttpResponse:
    return render(request, "accounts/forbidden.html", {"reason": str(exc)}, status=403)


@login_required
def connect(request: HttpRequest, app: str) -> HttpResponse:
    _, spec = _oauth_app(app)
    try:
        workspace = _workspace_for(request, request.GET.get("workspace"))
    except selectors.Forbidden as exc:
        return _forbidden(request, exc)
    account_id = request.GET.get("account") or ""
    if (
        account_id
        and not ConnectedAccount.objects.filter(
            pk=int(account_id) if account_id.isdecimal() else 0, workspace=workspace, app=app
        ).exists()
    ):
        raise Http404("No such account.")
    state = secrets.token_urlsafe(32)
    request.session[session_key(app)] = {
        "state": state,
        "user": request.user.pk,
        "workspace": workspace.pk,
        "account": account_id,
        "next": safe_next(request),
    }
    return redirect(oauth.authorize_url(spec, redirect_uri=redirect_uri(app), state=state))


@sensitive_variables("code", "credentials", "stored", "connector")
@login_required
def callback(request: HttpRequest, app: str) -> HttpResponse:
    cls, spec = _oauth_app(app)
    name = cls.name
    key = session_key(app)
    pending = request.session.get(key) or {}
    state = request.GET.get("state", "")
    if (
        not pending
        or not state
        or pending.get("user") != request.user.pk
        # Bytes: the query is anyone's to write, and comparing str refuses non-ASCII text.
        or not secrets.compare_digest(str(pending.get("state")).encode(), state.encode())
    ):
        return HttpResponseBadRequest(
            f"{name}: this sign-in link is invalid or expired (the state does not match). "
            "Start connecting the account again."
        )
    del request.session[key]
    next_url = pending.get("next") or ""
    try:
        # Checked again: the user may have lost the role while at the consent page.
        workspace = _workspace_for(request, pending.get("workspace"))
    except selectors.Forbidden as exc:
        return _forbidden(request, exc)
    error = request.GET.get("error", "")
    if error:
        text = (
            f"{name}: access was not granted, so nothing was connected."
            if error == "access_denied"
            else f"{name}: {spec.provider} reported an error ({error[:100]})."
        )
        messages.error(request, text)
        return _back(next_url)
    code = request.GET.get("code", "")
    if not code:
        return HttpResponseBadRequest(f"{name}: {spec.provider} sent no authorization code.")
    http = HttpClient(app=app)
    try:
        credentials: dict[str, Any] = oauth.exchange_code(
            http, spec, app_name=name, code=code, redirect_uri=redirect_uri(app)
        )
        # What the app tells only about its token (Mailchimp: the data center) is kept with it.
        credentials = cls.complete_oauth(http, credentials)
        connector = cls(credentials, http=http)
        info = connector.check()
    except ConnectorError as exc:
        messages.error(request, exc.message)
        return _back(next_url)
    # ``check`` may have refreshed the token it was just given.
    credentials = dict(connector.credentials)
    identity, label = info.identity, info.label
    reauthorized = ConnectedAccount.objects.filter(
        pk=pending.get("account") or 0, workspace=workspace, app=app
    ).first()
    if reauthorized is not None:
        stored = reauthorized.get_credentials()
        # Accounts connected here know their identity (an email); one set up by hand may only
        # have an email as its label, or no email at all (then any identity may take it).
        known = str(stored.get("email") or reauthorized.label)
        if identity and "@" in known and known.casefold() != identity.casefold():
            # Storing these tokens would silently point the account at someone else's contacts.
            messages.error(
                request,
                f"{name}: you signed in as {identity}, but this account is {known}. "
                f"Nothing was changed; sign in with that {spec.provider} account.",
            )
            return _back(next_url)
        other = connected_account_other_app_account(reauthorized, info)
        if other:
            messages.error(request, other)
            return _back(next_url)
        label = reauthorized.label
        # The app may leave out the refresh token when the grant already had one (an app
        # without refresh tokens, or an account that had a key before, has none to keep).
        if stored.get("refresh_token"):
            credentials = {"refresh_token": stored["refresh_token"], **credentials}
    try:
        connected_account_upsert(
            workspace=workspace,
            app=app,
            label=label,
            credentials={
                **credentials,
                "email": identity,
                **({ACCOUNT_ID_KEY: info.account_id} if info.account_id else {}),
            },
        )
    except ValidationError as exc:
        problem = " ".join(exc.messages)
        messages.error(request, f"{name}: nothing was connected ({problem})")
        return _back(next_url)
    messages.success(request, f"{name}: connected {identity or label}.")
    return _back(next_url)
