"""The customer pages of connections and apps: thin views over selectors and services."""

from integrations.views.apps import app_detail, app_request, app_vote, apps
from integrations.views.configure import (
    connection_mappings,
    connection_options,
    connection_rules,
    mapping_edit,
    mapping_toggle,
    rule_delete,
    rule_edit,
    rule_new,
)
from integrations.views.connections import (
    connection_delete_view as connection_delete,
)
from integrations.views.connections import (
    connection_detail,
    connection_pause,
    connection_rescan,
    connection_resume,
    connection_sync_now,
    home,
)
from integrations.views.wizard import (
    connection_new,
    connection_new_accounts,
    connection_new_direction,
    connection_review,
)

__all__ = [
    "app_detail",
    "app_request",
    "app_vote",
    "apps",
    "connection_delete",
    "connection_detail",
    "connection_mappings",
    "connection_new",
    "connection_new_accounts",
    "connection_new_direction",
    "connection_options",
    "connection_pause",
    "connection_rescan",
    "connection_resume",
    "connection_review",
    "connection_rules",
    "connection_sync_now",
    "home",
    "mapping_edit",
    "mapping_toggle",
    "rule_delete",
    "rule_edit",
    "rule_new",
]
