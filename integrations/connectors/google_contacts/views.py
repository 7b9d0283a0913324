"""Connecting a Google account: the OAuth 2.0 authorization-code flow.

``connect`` (``?workspace=<id>[&account=<id>]``) sends the user to Google's consent page with a
random ``state`` kept in the session; ``callback`` checks that state, trades the code for tokens,
reads the account's email and stores the tokens encrypted on the workspace's connected account.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.urls import reverse

from accounts.models import ConnectedAccount, Workspace
from accounts.services import connected_account_upsert
from integrations.connectors.base import ConnectorError
from integrations.connectors.google_contacts.client import SCOPE, PeopleClient, exchange_code
from integrations.connectors.http import HttpClient

SESSION_KEY = "google_contacts_oauth"
APP = "google_contacts"


def _workspace_for(request: HttpRequest, workspace_id: object) -> Workspace:
    try:
        workspace = Workspace.objects.get(pk=int(str(workspace_id)))
    except (TypeError, ValueError, Workspace.DoesNotExist):
        raise Http404("No such workspace.") from None
    user = request.user
    if not (user.is_staff or workspace.memberships.filter(user_id=user.pk or 0).exists()):
        raise Http404("No such workspace.")
    return workspace


def _redirect_uri() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("google_contacts:callback")


def _back(account_id: object) -> HttpResponse:
    if account_id:
        return redirect("admin:accounts_connectedaccount_change", account_id)
    return redirect(reverse("admin:accounts_connectedaccount_changelist"))


@login_required
def connect(request: HttpRequest) -> HttpResponse:
    workspace = _workspace_for(request, request.GET.get("workspace"))
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
    workspace = _workspace_for(request, pending.get("workspace"))
    error = request.GET.get("error", "")
    if error:
        text = (
            "Google Contacts: access was not granted, so nothing was connected."
            if error == "access_denied"
            else f"Google Contacts: Google reported an error ({error[:100]})."
        )
        messages.error(request, text)
        return _back(pending.get("account"))
    code = request.GET.get("code", "")
    if not code:
        return HttpResponseBadRequest("Google Contacts: Google sent no authorization code.")
    http = HttpClient(app=APP)
    try:
        credentials = exchange_code(http, code, _redirect_uri())
        token = str(credentials["access_token"])

        def no_refresh() -> str:
            raise ConnectorError("Google Contacts: the new access token was refused.")

        me = PeopleClient(http, token=lambda: token, refresh=no_refresh).me()
    except ConnectorError as exc:
        messages.error(request, exc.message)
        return _back(pending.get("account"))
    emails = [str(e["value"]) for e in me.get("emailAddresses") or [] if e.get("value")]
    email = emails[0] if emails else ""
    label = email or "Google account"
    reauthorized = ConnectedAccount.objects.filter(
        pk=pending.get("account") or 0, workspace=workspace, app=APP
    ).first()
    if reauthorized is not None:
        # Accounts connected here know their Google email; one set up by hand may only have
        # an email as its label, or no email at all (then any Google account may take it).
        known = str(reauthorized.get_credentials().get("email") or reauthorized.label)
        if email and "@" in known and known.casefold() != email.casefold():
            # Storing these tokens would silently point the account at someone else's contacts.
            messages.error(
                request,
                f"Google Contacts: you signed in as {email}, but this account is {known}. "
                "Nothing was changed; sign in with that Google account.",
            )
            return _back(reauthorized.pk)
        label = reauthorized.label
    with transaction.atomic():
        account = connected_account_upsert(
            workspace=workspace, app=APP, label=label, credentials={**credentials, "email": email}
        )
    messages.success(request, f"Google Contacts: connected {email or label}.")
    return redirect("admin:accounts_connectedaccount_change", account.pk)
