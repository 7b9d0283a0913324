"""Connecting a Google account: the OAuth 2.0 authorization-code flow.

``connect`` (``[?workspace=<id>][&account=<id>][&next=<local url>]``) sends the user to Google's
consent page with a random ``state`` kept in the session. The workspace is the user's current
one unless ``workspace`` names another; either way the user must be its owner or admin (staff
status grants nothing here). ``callback`` checks that state and the membership again, trades the
code for tokens, reads the account's email, stores the tokens encrypted on the workspace's
connected account and returns the user to ``next`` or the connected accounts page.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_variables

from accounts.models import ConnectedAccount, Workspace
from accounts.services import connected_account_upsert
from accounts.views import safe_next
from integrations import selectors
from integrations.connectors.base import ConnectorError
from integrations.connectors.google_contacts.client import SCOPE, PeopleClient, exchange_code
from integrations.connectors.http import HttpClient

SESSION_KEY = "google_contacts_oauth"
APP = "google_contacts"


def _workspace_for(request: HttpRequest, workspace_id: object) -> Workspace:
    """The workspace to connect into: ``workspace_id`` or the current one, of which the user
    must be an owner or admin (404 for a workspace they are not in, ``Forbidden`` otherwise)."""
    if workspace_id in (None, ""):
        current = selectors.current_workspace(request)
        if current is None:
            raise Http404("No workspace to connect an account to.")
        workspace_id = current.pk
    return selectors.workspace_get(user=request.user, workspace_id=workspace_id, manage=True)


def _redirect_uri() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("google_contacts:callback")


def _back(next_url: object) -> HttpResponse:
    return redirect(str(next_url or "") or reverse("accounts:connected_accounts"))


def _forbidden(request: HttpRequest, exc: selectors.Forbidden) -> HttpResponse:
    return render(request, "accounts/forbidden.html", {"reason": str(exc)}, status=403)


@login_required
def connect(request: HttpRequest) -> HttpResponse:
    try:
        workspace = _workspace_for(request, request.GET.get("workspace"))
    except selectors.Forbidden as exc:
        return _forbidden(request, exc)
    account_id = request.GET.get("account") or ""
    if (
        account_id
        and not ConnectedAccount.objects.filter(
            pk=account_id if account_id.isdigit() else 0, workspace=workspace, app=APP
        ).exists()
    ):
        raise Http404("No such account.")
    state = secrets.token_urlsafe(32)
    request.session[SESSION_KEY] = {
        "state": state,
        "user": request.user.pk,
        "workspace": workspace.pk,
        "account": account_id,
        "next": safe_next(request),
    }
    query = urlencode(
        {
            "client_id": settings.GOOGLE_OAUTH_CLIENT_ID,
            "redirect_uri": _redirect_uri(),
            "response_type": "code",
            "scope": SCOPE,
            "access_type": "offline",
            "prompt": "consent",
            "include_granted_scopes": "true",
            "state": state,
        }
    )
    return redirect(f"{settings.GOOGLE_OAUTH_AUTHORIZE_URL}?{query}")


@sensitive_variables("code", "credentials", "token", "stored")
@login_required
def callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(SESSION_KEY) or {}
    state = request.GET.get("state", "")
    if (
        not pending
        or not state
        or pending.get("user") != request.user.pk
        or not secrets.compare_digest(str(pending.get("state")), state)
    ):
        return HttpResponseBadRequest(
            "Google Contacts: this sign-in link is invalid or expired (the state does not "
            "match). Start connecting the account again."
        )
    del request.session[SESSION_KEY]
    next_url = pending.get("next") or ""
    try:
        # Checked again: the user may have lost the role while at Google.
        workspace = _workspace_for(request, pending.get("workspace"))
    except selectors.Forbidden as exc:
        return _forbidden(request, exc)
    error = request.GET.get("error", "")
    if error:
        text = (
            "Google Contacts: access was not granted, so nothing was connected."
            if error == "access_denied"
            else f"Google Contacts: Google reported an error ({error[:100]})."
        )
        messages.error(request, text)
        return _back(next_url)
    code = request.GET.get("code", "")
    if not code:
        return HttpResponseBadRequest("Google Contacts: Google sent no authorization code.")
    http = HttpClient(app=APP)
    try:
        credentials: dict[str, Any] = exchange_code(http, code, _redirect_uri())
        token = str(credentials["access_token"])

        def no_refresh() -> str:
            raise ConnectorError("Google Contacts: the new access token was refused.")

        me = PeopleClient(http, token=lambda: token, refresh=no_refresh).me()
    except ConnectorError as exc:
        messages.error(request, exc.message)
        return _back(next_url)
    emails = [str(e["value"]) for e in me.get("emailAddresses") or [] if e.get("value")]
    email = emails[0] if emails else ""
    label = email or "Google account"
    reauthorized = ConnectedAccount.objects.filter(
        pk=pending.get("account") or 0, workspace=workspace, app=APP
    ).first()
    if reauthorized is not None:
        stored = reauthorized.get_credentials()
        # Accounts connected here know their Google email; one set up by hand may only have
        # an email as its label, or no email at all (then any Google account may take it).
        known = str(stored.get("email") or reauthorized.label)
        if email and "@" in known and known.casefold() != email.casefold():
            # Storing these tokens would silently point the account at someone else's contacts.
            messages.error(
                request,
                f"Google Contacts: you signed in as {email}, but this account is {known}. "
                "Nothing was changed; sign in with that Google account.",
            )
            return _back(next_url)
        label = reauthorized.label
        # Google may leave out the refresh token when the grant already had one.
        credentials = {"refresh_token": stored.get("refresh_token"), **credentials}
    try:
        connected_account_upsert(
            workspace=workspace, app=APP, label=label, credentials={**credentials, "email": email}
        )
    except ValidationError as exc:
        problem = " ".join(exc.messages)
        messages.error(request, f"Google Contacts: nothing was connected ({problem})")
        return _back(next_url)
    messages.success(request, f"Google Contacts: connected {email or label}.")
    return _back(next_url)
