"""The ops admin. Configuration goes through the same validated forms as the customer pages
(``integrations.forms``), so a condition, mapping or option the engine cannot honour is a
form error here too. Run history is read-only; actions need the change permission. Staff see
only their own workspaces' objects unless they may support every workspace
(``accounts/admin_scope.py``).

One module a job: ``connections`` (connections and their mappings), ``rules`` (rules, their
conditions and actions), ``history`` (what the sync loop writes, read-only), ``webhooks`` (the
receiver's records), ``apps`` (votes and requests); ``base`` holds what they share. Importing
the package registers them all."""

from integrations.admin import apps, connections, history, rules, webhooks
from integrations.admin.base import CascadesHistory, ReadOnlyAdmin, connection_fields

__all__ = [
    "CascadesHistory",
    "ReadOnlyAdmin",
    "apps",
    "connection_fields",
    "connections",
    "history",
    "rules",
    "webhooks",
]
