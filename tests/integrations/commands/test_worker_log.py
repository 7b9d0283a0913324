"""The worker's one line per run, and LOG_FORMAT=json."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys

import pytest
from django.utils import timezone

from config.logging import JsonFormatter
from integrations.models import AuditEntry, SyncRun
from tests.e2e.conftest import Pair

pytestmark = pytest.mark.django_db


def run_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "integrations.tasks" and "run_id" in vars(r)]


def test_it_logs_one_line_per_run_with_its_counters(pair: Pair, caplog) -> None:
    pair.add_customer("Alice Archer", "alice@acme.example")
    connection = pair.connect()
    with caplog.at_level(logging.INFO, logger="integrations.tasks"):
        run = pair.sync(connection)
    (record,) = run_lines(caplog)
    message = record.getMessage()
    assert message.startswith(f"connection {connection.pk} run {run.pk} scan success in ")
    assert "read 1/0, created 0/1, updated 0/0" in message
    assert f"{run.api_calls} API calls" in message and run.api_calls > 0


def test_it_logs_a_failed_run_as_a_warning_with_its_error(pair: Pair, caplog, settings) -> None:
    connection = pair.connect()
    settings.HTTP_MAX_RETRIES = 0
    settings.KUSTOMER_BASE_URL_TEMPLATE = "http://127.0.0.1:9/{subdomain}"
    with caplog.at_level(logging.INFO, logger="integrations.tasks"):
        pair.sync(connection)
    (record,) = run_lines(caplog)
    assert record.levelno == logging.WARNING
    assert "failed" in record.getMessage() and "could not be reached" in record.getMessage()


def test_it_never_logs_a_secret(pair: Pair, caplog) -> None:
    pair.add_customer("Alice Archer", "alice@acme.example")
    connection = pair.connect()
    with caplog.at_level(logging.DEBUG):
        pair.sync(connection)
    secrets = [pair.account_a.get_credentials()["api_key"]]
    secrets.append(pair.account_b.get_credentials()["refresh_token"])
    assert not any(secret in caplog.text for secret in secrets)


def test_it_prunes_audit_entries_past_their_days_after_a_run(pair: Pair, settings) -> None:
    settings.TANDEM_AUDIT_DAYS = 30
    pair.add_customer("Alice Archer", "alice@acme.example")
    connection = pair.connect()
    first = pair.sync(connection)
    assert AuditEntry.objects.filter(run=first).exists()
    AuditEntry.objects.update(created_at=timezone.now() - dt.timedelta(days=31))
    pair.sync(connection)
    assert not AuditEntry.objects.filter(run=first).exists()


def test_it_formats_a_line_as_json_with_the_extra_fields() -> None:
    record = logging.LogRecord("integrations.tasks", logging.INFO, "", 1, "run %s", (7,), None)
    record.run_id = 7
    record.updated_a = 3
    data = json.loads(JsonFormatter().format(record))
    assert data["message"] == "run 7" and data["level"] == "INFO"
    assert data["run_id"] == 7 and data["updated_a"] == 3


def test_it_picks_the_json_formatter_with_log_format_json() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.LOGGING['handlers']['console']['formatter'])"
    )
    env = dict(os.environ, LOG_FORMAT="json", DJANGO_SETTINGS_MODULE="config.settings.test")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "json"


def test_it_counts_every_run_counter_in_the_json_fields(pair: Pair, caplog) -> None:
    pair.add_customer("Alice Archer", "alice@acme.example")
    connection = pair.connect()
    with caplog.at_level(logging.INFO, logger="integrations.tasks"):
        pair.sync(connection)
    (record,) = run_lines(caplog)
    data = json.loads(JsonFormatter().format(record))
    assert set(SyncRun.COUNTERS) <= set(data)
    assert data["connection_id"] == connection.pk and data["outcome"] == "success"
