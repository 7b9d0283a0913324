"""``/healthz``: is this deployment able to sync? For load balancers and uptime monitors.

Three checks, each cheap: the database answers a query, the Celery broker accepts a connection
(one attempt with a short timeout), and beat's dispatcher ran recently (it stamps ``BeatTick``
every minute). 200 when all three pass, 503 otherwise, with the failing check named. Nothing in
the answer comes from the settings' URLs (a broker URL may carry a password).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

BEAT_TICK = "dispatch-due-connections"


def beat_tick_stamp(*, now: dt.datetime | None = None) -> None:
    """Stamp the dispatcher's run (called by ``dispatch_due_connections_task``)."""
    from integrations.models import BeatTick

    BeatTick.objects.update_or_create(name=BEAT_TICK, defaults={"at": now or timezone.now()})


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("health: database check failed (%s)", type(exc).__name__)
        return "unreachable"
    return "ok"


def check_broker() -> str:
    from config.celery_app import app

    timeout = settings.TANDEM_HEALTH_BROKER_TIMEOUT
    try:
        with app.connection_for_write(connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
    except Exception as exc:  # any transport's refusal, DNS failure or timeout
        # The exception's text may quote the URL; its type is enough for the log.
        logger.warning("health: broker check failed (%s)", type(exc).__name__)
        return "unreachable"
    return "ok"


def check_beat(*, now: dt.datetime | None = None) -> str:
    from integrations.models import BeatTick

    try:
        tick = BeatTick.objects.filter(name=BEAT_TICK).values_list("at", flat=True).first()
    except DatabaseError:
        return "unknown (no database)"
    if tick is None:
        return "never ran"
    age = ((now or timezone.now()) - tick).total_seconds()
    if age > settings.TANDEM_HEALTH_BEAT_MAX_AGE:
        return f"stale: last ran {int(age)} seconds ago"
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database(), "broker": check_broker(), "beat": check_beat()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)
