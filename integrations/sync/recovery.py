"""Crash recovery by intent key: finish the creates a crashed run made but never linked.

Each open intent's record is looked up by the intent's key it was stamped with (then, for an
app that cannot look keys up, by the emails it was created with) and linked; the intents that
created nothing are forgotten. The key comes first: a record created without an email, or whose
email was changed since, is found by no email, and forgetting its intent would create it a
second time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.sync import mapping as mapping_mod
from integrations.sync.apps import App
from integrations.sync.config import Config
from integrations.sync.journal import Journal
from integrations.sync.records import Contact, normalize_email
from integrations.sync.sides import SIDES, chunks, other
from integrations.sync.state import RunState
from integrations.sync.store import Store


def recover_intents(
    config: Config, apps: Mapping[str, App], store: Store, journal: Journal, state: RunState
) -> None:
    for target in SIDES:
        intents = store.open_intents(target)
        if not intents:
            continue
        app = apps[target]
        size = config.sides[target].lookup_batch_size
        for batch in chunks(intents, size):
            by_key = dict(app.find_by_intent_keys([str(i.key) for i in batch]))
            unfound = [i for i in batch if str(i.key) not in by_key]
            emails = sorted({normalize_email(e) for i in unfound for e in i.emails})
            for email_batch in chunks(emails, size):
                for records in app.find_by_emails(email_batch).values():
                    for record in records:
                        if record.idempotency_key and not record.deleted:
                            by_key.setdefault(record.idempotency_key, record)
            store.settle_intents(
                target,
                batch,
                by_key,
                lambda record, target=target: created_snapshot(config, other(target), record),
                journal,
                state,
            )


def created_snapshot(config: Config, source: str, created: Contact) -> dict[str, dict[str, Any]]:
    """The snapshot of a recovered create: the created record's values, as if just synced
    (the intent does not keep what was written), so a later edit of either side is seen as a
    one-sided change rather than a conflict."""
    target = other(source)
    snapshot: dict[str, dict[str, Any]] = {"a": {}, "b": {}}
    for m in config.mappings:
        if not m.flows(source):
            continue
        now = m.read(target, created)
        back = m.convert(target, now)
        if mapping_mod.is_empty(now) or back is mapping_mod.UNCONVERTIBLE:
            continue
        snapshot[target][m.key(target)] = now
        snapshot[source][m.key(source)] = back
    return snapshot
