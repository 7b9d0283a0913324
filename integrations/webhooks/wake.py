"""One run per connection for a burst of deliveries, and never two runs of it at once.

A delivery adds its changed records to the connection's ``WebhookWake`` and, when no run is
queued for it yet, queues one ``TANDEM_WEBHOOK_DEBOUNCE_SECONDS`` later: the deliveries of the
same burst find it queued and only add their records. The queued task takes the records and
clears the flag (so a delivery during the run queues the next one), then:

- skips the run when every record is already applied (the connection's link holds that version:
  its own write read back, or a run that came between read it);
- else runs the connection through ``connection_sync``, whose lease lets one run through;
- when another run holds the lease (the beat's, or a long scan), that run may have read before
  these changes, so the records go back and the task is queued again, later each time.

Deliveries are unordered and may repeat: a record's older version is "applied" once a newer one
is, and a run reads the app's current state, not the delivery's, so neither changes anything.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations.models import Connection, RecordLink
from integrations.webhooks.models import WebhookDelivery, WebhookWake

logger = logging.getLogger(__name__)

# A wake-up holds this many changed records; past it the run happens regardless.
MAX_CHANGES = 500
# A queued task not started after this long is taken as lost (its worker died): the next
# delivery queues another.
QUEUED_STALE = dt.timedelta(minutes=10)
# Seconds before trying again while another run holds the lease: doubled each time, capped.
RETRY_FIRST, RETRY_MAX = 1.0, 30.0
# Delivery keys are kept this long: past every app's freshness window, after which a replay is
# refused as stale anyway.
DEDUPE_KEEP = dt.timedelta(hours=3)

Change = tuple[str, str, str]  # (side, record id, version)


def wake_request(
    *, connection_id: int, changes: list[Change], force: bool = False, attempt: int = 0
) -> bool:
    """Add ``changes`` to the connection's wake-up and queue its run unless one is queued.
    ``force`` runs it whatever the links say. True when this call queued the run."""
    now = timezone.now()
    with transaction.atomic():
        wake, _ = WebhookWake.objects.select_for_update().get_or_create(connection_id=connection_id)
        known = {tuple(c) for c in wake.changes}
        merged = list(wake.changes) + [list(c) for c in changes if tuple(c) not in known]
        if force or len(merged) > MAX_CHANGES:
            wake.overflow = True
            merged = []
        wake.changes = [] if wake.overflow else merged
        wake.requested_at = now
        queue = wake.queued_at is None or wake.queued_at < now - QUEUED_STALE
        if queue:
            wake.queued_at = now
        wake.save()
    if queue:
        delay = settings.TANDEM_WEBHOOK_DEBOUNCE_SECONDS if attempt == 0 else retry_delay(attempt)
        transaction.on_commit(lambda: _enqueue(connection_id, attempt, delay))
    return queue


def retry_delay(attempt: int) -> float:
    return min(RETRY_FIRST * 2 ** max(attempt - 1, 0), RETRY_MAX)


def _enqueue(connection_id: int, attempt: int, delay: float) -> None:
    from integrations.webhooks.tasks import webhook_run_task

    webhook_run_task.apply_async((connection_id, attempt), countdown=delay)


def wake_run(*, connection_id: int, attempt: int = 0) -> str:
    """Run the connection for its pending wake-up (the queued task's body). Returns what it did:
    "nothing" (no wake-up), "applied" (every record already applied), "ran", "busy" (another run
    holds the lease: queued again) or "not runnable"."""
    from integrations.services import ConnectionNotRunnable, connection_sync
    from integrations.tasks import log_run

    with transaction.atomic():
        wake = WebhookWake.objects.select_for_update().filter(pk=connection_id).first()
        if wake is None:
            return "nothing"
        changes: list[Change] = [(c[0], c[1], c[2]) for c in wake.changes]
        force = wake.overflow
        wake.changes, wake.overflow, wake.queued_at = [], False, None
        wake.save(update_fields=["changes", "overflow", "queued_at"])
    deliveries_prune()
    if not force and not changes:
        return "nothing"
    if not force and all_applied(connection_id, changes):
        logger.info("connection %s: webhook changes already applied; no run", connection_id)
        return "applied"
    try:
        run = connection_sync(connection_id=connection_id)
    except ConnectionNotRunnable as exc:
        logger.info("%s; webhook run skipped", exc)
        return "not runnable"
    except Connection.DoesNotExist:
        return "nothing"
    if run is None:
        wake_request(connection_id=connection_id, changes=changes, force=force, attempt=attempt + 1)
        return "busy"
    log_run(run)
    return "ran"


def is_applied(link_version: str, version: str) -> bool:
    """Whether a link holding ``link_version`` already covers ``version`` of its record: the
    same version, or (numbers, like Kustomer's ``rev``) a later one."""
    if not link_version or not version:
        return False
    if link_version.isdigit() and version.isdigit():
        return int(link_version) >= int(version)
    return link_version == version


def applied_changes(connection_id: int, changes: list[Change]) -> set[Change]:
    """The changes the connection's links already hold (by side, id and version)."""
    wanted = [c for c in changes if c[1] and c[2]]
    if not wanted:
        return set()
    found: dict[tuple[str, str], str] = {}
    for side in ("a", "b"):
        ids = [c[1] for c in wanted if c[0] == side]
        if not ids:
            continue
        rows = (
            RecordLink.objects.filter(connection_id=connection_id, **{f"id_{side}__in": ids})
            .order_by()
            .values_list(f"id_{side}", f"version_{side}")
        )
        for record_id, version in rows:
            found[(side, record_id)] = version
    return {c for c in wanted if is_applied(found.get((c[0], c[1]), ""), c[2])}


def all_applied(connection_id: int, changes: list[Change]) -> bool:
    return len(applied_changes(connection_id, changes)) == len(set(changes))


def connections_of_account(account_id: int) -> list[tuple[int, str]]:
    """(connection id, the account's side) of every connection using the account."""
    rows = Connection.objects.filter(Q(account_a_id=account_id) | Q(account_b_id=account_id))
    return [
        (pk, "a" if a == account_id else "b")
        for pk, a in rows.order_by("id").values_list("pk", "account_a_id")
    ]


def deliveries_prune(*, limit: int = 1000) -> int:
    """Forget delivery keys older than ``DEDUPE_KEEP`` (a bounded batch)."""
    cutoff = timezone.now() - DEDUPE_KEEP
    old = list(
        WebhookDelivery.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:limit]
    )
    if old:
        WebhookDelivery.objects.filter(pk__in=old).delete()
    return len(old)
