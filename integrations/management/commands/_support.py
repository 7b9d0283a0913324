"""Shared pieces of the support commands (a leading underscore: Django lists no command here)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import ConnectedAccount
from integrations.models import Connection, SyncRun


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def connection_or_error(connection_id: int) -> Connection:
    connection = (
        Connection.objects.select_related("workspace", "account_a", "account_b")
        .filter(pk=connection_id)
        .first()
    )
    if connection is None:
        raise CommandError(
            f"No connection with id {connection_id}. `manage.py tandem_status` lists them."
        )
    return connection


def account_or_error(account_id: int) -> ConnectedAccount:
    account = ConnectedAccount.objects.select_related("workspace").filter(pk=account_id).first()
    if account is None:
        raise CommandError(f"No connected account with id {account_id}.")
    return account


def apps_of(connection: Connection) -> str:
    arrow = {"two_way": "⇄", "a_to_b": "→", "b_to_a": "←"}.get(connection.direction, "⇄")
    return f"{connection.account_a.app_name} {arrow} {connection.account_b.app_name}"


def status_words(connection: Connection) -> str:
    reason = f": {connection.status_reason}" if connection.status_reason else ""
    return f"{connection.get_status_display().lower()}{reason}"


def when(moment: dt.datetime | None) -> str:
    if moment is None:
        return "never"
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def run_summary(run: SyncRun) -> str:
    counts = (
        f"read {run.read_a}/{run.read_b}, created {run.created_a}/{run.created_b}, "
        f"updated {run.updated_a}/{run.updated_b}, tagged {run.tagged_a}/{run.tagged_b}"
    )
    return f"run {run.pk} ({run.get_phase_display().lower()}) {run.outcome}: {counts}"


def dump_json(command: BaseCommand, data: Any) -> None:
    command.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str))


def bar_stream(command: BaseCommand) -> TextIO:
    """Where progress bars go: the command's own stderr stream (Django's wrapper would end
    every carriage-return update with a newline)."""
    stream = getattr(command.stderr, "_out", None)
    return stream if stream is not None else sys.stderr
