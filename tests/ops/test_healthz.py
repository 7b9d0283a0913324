from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from config.health import BEAT_TICK
from integrations import tasks
from integrations.models import BeatTick

pytestmark = pytest.mark.django_db


def test_it_answers_200_when_database_broker_and_beat_are_fine(client: Client) -> None:
    tasks.dispatch_due_connections_task()

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "beat": "ok"}


def test_it_needs_no_login(client: Client) -> None:
    tasks.dispatch_due_connections_task()

    response = client.get("/healthz", follow=False)

    assert response.status_code == 200


def test_it_answers_503_when_beat_never_ran(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["beat"] == "never ran"


def test_it_answers_503_when_beats_last_tick_is_stale(client: Client, settings: Any) -> None:
    settings.TANDEM_HEALTH_BEAT_MAX_AGE = 180
    BeatTick.objects.create(name=BEAT_TICK, at=timezone.now() - dt.timedelta(minutes=5))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["beat"].startswith("stale")


def test_it_stamps_beats_tick_each_time_the_dispatcher_runs() -> None:
    tasks.dispatch_due_connections_task()
    first = BeatTick.objects.get(name=BEAT_TICK).at

    tasks.dispatch_due_connections_task()

    assert BeatTick.objects.get(name=BEAT_TICK).at > first
    assert BeatTick.objects.count() == 1


def test_it_answers_503_naming_the_broker_without_its_password(
    client: Client, settings: Any
) -> None:
    from config.celery_app import app

    tasks.dispatch_due_connections_task()
    settings.TANDEM_HEALTH_BROKER_TIMEOUT = 0.5
    url = "redis://:hunter2-secret@127.0.0.1:1/0"
    previous = app.conf.broker_url
    app.conf.broker_url = url
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = previous

    assert response.status_code == 503
    assert response.json()["broker"] == "unreachable"
    assert response.json()["database"] == "ok"
    assert b"hunter2" not in response.content


def test_it_answers_503_when_the_database_fails(client: Client, monkeypatch: Any) -> None:
    from django.db import DatabaseError

    import config.health as health

    def broken_cursor() -> Any:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", broken_cursor)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
