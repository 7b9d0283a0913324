"""Writes. Views, tasks, admin actions and commands call these and nothing else."""

from integrations.services.audit import (
    UndoBusy,
    UndoRefused,
    audit_prune,
    run_undo,
    runs_prune,
)
from integrations.services.runs import (
    ConnectionNotRunnable,
    connection_pause,
    connection_resume,
    connection_resync,
    connection_sync,
    connection_sync_now,
    connections_claim_due,
)
from integrations.services.setup import (
    connection_create,
    connection_create_for_accounts,
    field_mapping_add,
    field_mapping_update,
    rule_create,
    rule_delete,
)

__all__ = [
    "ConnectionNotRunnable",
    "UndoBusy",
    "UndoRefused",
    "audit_prune",
    "connection_create",
    "connection_create_for_accounts",
    "connection_pause",
    "connection_resume",
    "connection_resync",
    "connection_sync",
    "connection_sync_now",
    "connections_claim_due",
    "field_mapping_add",
    "field_mapping_update",
    "rule_create",
    "rule_delete",
    "run_undo",
    "runs_prune",
]
