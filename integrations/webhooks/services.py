"""Subscribing an account's app to Tandem's receiver, and taking a delivery.

Taking a delivery does no sync work: it verifies, records the events once, drops what is
already applied or an echo of Tandem's own write, adds the rest to the connections' wake-ups
and answers. A run follows on a worker (``wake``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.debug import sensitive_variables

from accounts.models import ConnectedAccount
from integrations.connectors.base import Connector, ConnectorError
from integrations.webhooks.base import Event, Refused, Registration, WebhookSource
from integrations.webhooks.models import (
    WebhookCount,
    WebhookDelivery,
    WebhookSubscription,
    url_key_digest,
)
from integrations.webhooks.verify import RECEIVERS
from integrations.webhooks.wake import Change, applied_changes, connections_of_account, wake_request

logger = logging.getLogger(__name__)

# The connectors whose app sends change notifications, by app: a class wrapping the connector.
SOURCES = {
    "kustomer": "integrations.connectors.kustomer.webhooks.KustomerWebhooks",
    "mailchimp": "integrations.connectors.mailchimp.webhooks.MailchimpWebhooks",
    "hubspot": "integrations.connectors.hubspot.webhooks.HubSpotWebhooks",
}


def webhook_source_for(connector: Connector) -> WebhookSource | None:
    """What registers the receiver on the connector's app; None when the app sends none."""
    if isinstance(connector, WebhookSource):
        return connector
    path = SOURCES.get(connector.slug)
    if path is None:
        return None
    source: WebhookSource = import_string(path)(connector)
    return source


def webhooks_modes(*, accounts: list[ConnectedAccount]) -> dict[int, str]:
    """How each account's changes reach Tandem, in words, by account id, from the facts: in real
    time when its app holds Tandem's receiver, else by polling, and why."""
    subscribed = set(
        WebhookSubscription.objects.filter(account__in=accounts)
        .exclude(remote_id="")
        .values_list("account_id", flat=True)
    )
    modes = {}
    for account in accounts:
        reason = "" if account.pk in subscribed else _polling_reason(account)
        modes[account.pk] = (
            f"Changes are found by polling: {reason}."
            if reason
            else "Changes arrive in real time (the app notifies Tandem)."
        )
    return modes


def _polling_reason(account: ConnectedAccount) -> str:
    path = SOURCES.get(account.app)
    if path is None:
        return f"{account.app_name} sends no change notifications"
    unavailable = getattr(import_string(path), "unavailable", None)
    reason = str(unavailable(account.get_credentials())) if unavailable is not None else ""
    if reason:
        return reason
    if not settings.TANDEM_PUBLIC_URL:
        return "this Tandem has no public address for webhooks"
    return f"{account.app_name} has not taken Tandem's webhook (yet)"


def receiver_url(app: str, key: str) -> str:
    """The receiver's public URL for one subscription (``TANDEM_PUBLIC_URL`` + its path)."""
    path = reverse("webhooks:receive", kwargs={"app": app, "key": key})
    return settings.TANDEM_PUBLIC_URL.rstrip("/") + path


# ---- subscribing ------------------------------------------------------------------------------


def webhooks_account_connected(*, account: ConnectedAccount) -> None:
    """Once the account's transaction commits, register the receiver on its app (a task: the
    app is called outside the person's request). Nothing without ``TANDEM_PUBLIC_URL``."""
    if not settings.TANDEM_PUBLIC_URL or account.app not in SOURCES:
        return
    from integrations.webhooks.tasks import webhook_subscribe_task

    account_id = account.pk
    transaction.on_commit(lambda: webhook_subscribe_task.delay(account_id))


def webhooks_renew_later(*, account: ConnectedAccount) -> None:
    """Once the transaction commits, register the account's receiver again at today's
    ``TANDEM_PUBLIC_URL`` (a task): the address it was registered at may have changed since, as
    the demo's does with ``TANDEM_PORT``."""
    if not settings.TANDEM_PUBLIC_URL or account.app not in SOURCES:
        return
    from integrations.webhooks.tasks import webhook_subscribe_task

    account_id = account.pk
    transaction.on_commit(lambda: webhook_subscribe_task.delay(account_id, renew=True))


# Tries of a subscribing task while the app cannot be reached or refuses for now (an app, or
# Tandem's own receiver that the app checks, still starting), and the seconds before the second
# one, doubled each time up to a minute: about six minutes in all.
SUBSCRIBE_ATTEMPTS = 10
SUBSCRIBE_RETRY_FIRST, SUBSCRIBE_RETRY_MAX = 2.0, 60.0


def subscribe_run(*, account_id: int, attempt: int = 0, renew: bool = False) -> str:
    """Subscribe (or renew) one account (the task's body): "subscribed", "none" (no receiver:
    no public URL, no notifications, or a refusal for good, logged), "retry" (queued again) or
    "nothing" (the account is gone)."""
    account = ConnectedAccount.objects.filter(pk=account_id).first()
    if account is None:
        return "nothing"
    last = attempt + 1 >= SUBSCRIBE_ATTEMPTS
    try:
        if renew:
            subscription = webhooks_renew(account=account, raise_transient=not last)
        else:
            subscription = webhooks_subscribe(account=account, raise_transient=not last)
    except ConnectorError as exc:
        from integrations.webhooks.tasks import webhook_subscribe_task

        delay = min(SUBSCRIBE_RETRY_FIRST * 2**attempt, SUBSCRIBE_RETRY_MAX)
        logger.info(
            "account %s: %s webhook not registered yet (%s); trying again in %.0f s",
            account.pk,
            account.app,
            exc.message,
            delay,
        )
        webhook_subscribe_task.apply_async(
            (account_id,), {"attempt": attempt + 1, "renew": renew}, countdown=delay
        )
        return "retry"
    return "none" if subscription is None else "subscribed"


def webhooks_renew(
    *, account: ConnectedAccount, raise_transient: bool = False
) -> WebhookSubscription | None:
    """Register Tandem's receiver on the account's app again, at today's public URL: the one
    registered before is removed from the app first, then forgotten. ``raise_transient`` as in
    ``webhooks_subscribe`` (a removal that failed for now keeps the subscription, to be removed
    on the next try)."""
    from integrations.connectors.accounts import connector_for

    subscription = WebhookSubscription.objects.filter(account=account).first()
    if subscription is not None:
        source = webhook_source_for(connector_for(account))
        if source is not None and subscription.remote_id:
            try:
                source.webhook_unregister(subscription.remote_id)
            except ConnectorError as exc:
                if raise_transient and not exc.permanent:
                    raise
                logger.warning(
                    "account %s: could not remove the old webhook from %s: %s",
                    account.pk,
                    account.app,
                    exc.message,
                )
        subscription.delete()
    return webhooks_subscribe(account=account, raise_transient=raise_transient)


@sensitive_variables("registration")
def webhooks_subscribe(
    *, account: ConnectedAccount, raise_transient: bool = False
) -> WebhookSubscription | None:
    """Register Tandem's receiver on the account's app, once. None when the app sends no
    notifications, no public URL is set, or the app refused (logged: polling goes on). With
    ``raise_transient``, a failure that may heal (no answer, a refusal for now) is raised
    instead, for the caller to try again."""
    from integrations.connectors.accounts import connector_for

    if not settings.TANDEM_PUBLIC_URL:
        return None
    existing = WebhookSubscription.objects.filter(account=account).first()
    if existing is not None:
        return existing
    connector = connector_for(account)
    source = webhook_source_for(connector)
    if source is None:
        return None
    # The row comes first: an app may call the URL back before it answers (Mailchimp's GET).
    url_key = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            subscription = WebhookSubscription.objects.create(
                account=account, app=account.app, key=url_key_digest(url_key)
            )
    except IntegrityError:  # another worker is subscribing the same account
        return WebhookSubscription.objects.filter(account=account).first()
    try:
        registration: Registration = source.webhook_register(receiver_url(account.app, url_key))
    except ConnectorError as exc:
        subscription.delete()
        if raise_transient and not exc.permanent:
            raise
        logger.warning(
            "account %s: %s refused the webhook; polling only: %s",
            account.pk,
            account.app,
            exc.message,
        )
        return None
    subscription.remote_id = registration.remote_id
    subscription.secret = registration.secret
    subscription.author_id = registration.author_id
    subscription.save(update_fields=["remote_id", "secret", "author_id"])
    return subscription


def webhooks_unsubscribe(*, account: ConnectedAccount) -> bool:
    """Remove the receiver from the account's app and forget the subscription. A refusal is
    logged, not raised: the subscription is forgotten anyway, so its deliveries are refused as
    unknown (and the app disables a webhook that keeps failing). True when one existed."""
    from integrations.connectors.accounts import connector_for

    subscription = WebhookSubscription.objects.filter(account=account).first()
    if subscription is None:
        return False
    source = webhook_source_for(connector_for(account))
    if source is not None:
        _unregister(source, account, subscription.remote_id)
    subscription.delete()
    return True


def _unregister(source: WebhookSource, account: ConnectedAccount, remote_id: str) -> None:
    try:
        source.webhook_unregister(remote_id)
    except ConnectorError as exc:
        logger.warning(
            "account %s: could not remove the webhook from %s: %s",
            account.pk,
            account.app,
            exc.message,
        )


# ---- receiving --------------------------------------------------------------------------------


@dataclass
class Receipt:
    """What became of one delivery: the HTTP status to answer, the outcome counted, and the
    connections whose run was queued by it."""

    status: int
    outcome: str
    queued: list[int] = field(default_factory=list)


# The last part of the URL of an app whose one URL serves every account (HubSpot).
APP_LEVEL_KEY = "app"


def delivery_receive(*, app: str, key: str, request: HttpRequest) -> Receipt:
    """Verify one delivery and schedule what it changed; the outcome is counted."""
    now = timezone.now()
    receiver = RECEIVERS.get(app)
    if receiver is None:
        count("unknown", "unknown")
        return Receipt(404, "unknown")
    if receiver.app_level:
        subscription = WebhookSubscription(app=app) if key == APP_LEVEL_KEY else None
    else:
        subscription = (
            WebhookSubscription.objects.filter(app=app, key=url_key_digest(key))
            .select_related("account")
            .first()
        )
    if subscription is None:
        count(app, "unknown")
        return Receipt(404, "unknown")
    try:
        events = receiver.verify(request, subscription, now=now)
    except Refused as refused:
        count(app, refused.outcome)
        logger.warning(
            "webhook: refused a %s delivery for account %s (%s): %s",
            app,
            subscription.account_id or "(any)",
            refused.outcome,
            refused.reason,
        )
        return Receipt(400 if refused.outcome == "malformed" else 401, refused.outcome)
    with transaction.atomic():
        fresh = [event for event in events if _take(app, event, now)]
        queued: list[int] = []
        if events and not fresh:
            outcome = "duplicate"
        elif not receiver.app_level:
            WebhookSubscription.objects.filter(pk=subscription.pk).update(last_delivery_at=now)
            outcome, queued = _schedule(subscription, fresh)
        else:
            outcome, queued = _schedule_by_scope(app, fresh, now)
    count(app, outcome)
    return Receipt(200, outcome, queued)


def _schedule_by_scope(app: str, events: list[Event], now: dt.datetime) -> tuple[str, list[int]]:
    """Events of an app-level URL go to the subscriptions of the accounts they name; events of
    an account Tandem does not know are dropped ("unknown" when none was known)."""
    scopes = {event.scope for event in events}
    subscriptions = list(
        WebhookSubscription.objects.filter(app=app, remote_id__in=scopes).exclude(remote_id="")
    )
    if events and not subscriptions:
        return "unknown", []
    outcomes, queued = set(), []
    for subscription in subscriptions:
        WebhookSubscription.objects.filter(pk=subscription.pk).update(last_delivery_at=now)
        mine = [event for event in events if event.scope == subscription.remote_id]
        outcome, woken = _schedule(subscription, mine)
        outcomes.add(outcome)
        queued += woken
    return ("accepted" if "accepted" in outcomes or not events else "echo"), queued


def _take(app: str, event: Event, now: dt.datetime) -> bool:
    """Record the event's key; False when it was taken before (a duplicate or a replay)."""
    try:
        with transaction.atomic():
            WebhookDelivery.objects.create(app=app, event_key=event.key, received_at=now)
    except IntegrityError:
        return False
    return True


def _schedule(subscription: WebhookSubscription, events: list[Event]) -> tuple[str, list[int]]:
    """Wake every connection using the account for the events it has not applied yet.

    An event is nothing new to a connection whose link already holds that version of the
    record (its own write, or a run that read it). An event Tandem wrote (its author is the
    account's machine user) is an echo when a single connection uses the account: that
    connection made it. With several, another connection may still need to carry it on."""
    using = connections_of_account(subscription.account_id)
    queued: list[int] = []
    woken = False
    for connection_id, side in using:
        changes: list[Change] = []
        force = False
        for event in events:
            own = bool(event.author) and event.author == subscription.author_id
            if own and len(using) == 1:
                continue
            if event.record_id:
                changes.append((side, event.record_id, event.version))
            else:
                force = True
        applied = applied_changes(connection_id, changes)
        changes = [c for c in changes if c not in applied]
        if not changes and not force:
            continue
        woken = True
        if wake_request(connection_id=connection_id, changes=changes, force=force):
            queued.append(connection_id)
    if not events or not using:
        return "accepted", queued  # nothing Tandem asked for, or no connection to wake
    return ("accepted" if woken else "echo"), queued


def count(app: str, outcome: str) -> None:
    """One more delivery of ``app`` ended with ``outcome``."""
    now = timezone.now()
    counted = WebhookCount.objects.filter(app=app, outcome=outcome).update(
        count=F("count") + 1, last_at=now
    )
    if counted:
        return
    try:
        with transaction.atomic():
            WebhookCount.objects.create(app=app, outcome=outcome, count=1, last_at=now)
    except IntegrityError:
        WebhookCount.objects.filter(app=app, outcome=outcome).update(
            count=F("count") + 1, last_at=now
        )


def counts(app: str | None = None) -> dict[str, int]:
    """The counters, by outcome (of one app, or summed over every app)."""
    rows = WebhookCount.objects.all() if app is None else WebhookCount.objects.filter(app=app)
    totals: dict[str, int] = {}
    for outcome, number in rows.values_list("outcome", "count"):
        totals[outcome] = totals.get(outcome, 0) + number
    return totals
