"""Deleting a connection (the set-up and run services cover the rest of the connection pages)."""

from __future__ import annotations

from django.db import transaction

from integrations.models import Connection


def connection_delete(*, connection: Connection) -> None:
    """Delete the connection with its rules, mappings, links and runs. The apps' records and
    the connected accounts stay."""
    with transaction.atomic():
        Connection.objects.filter(pk=connection.pk).delete()
