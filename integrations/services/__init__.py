"""Writes. Views, tasks, admin actions and commands call these and nothing else."""

from integrations.services.runs import (
    ConnectionNotRunnable,
    connection_pause,
    connection_resume,
    connection_resync,
    connection_sync,
    connection_sync_now,
    connections_claim_due,
)

__all__ = [
    "ConnectionNotRunnable",
    "connection_pause",
    "connection_resume",
    "connection_resync",
    "connection_sync",
    "connection_sync_now",
    "connections_claim_due",
]
