"""Tandem's own writes left out of a change feed, and the records read again by id because of it.

An app whose feed can leave out the records Tandem itself modified last (Kustomer: a search
criterion on ``customer_modified_by``, the API key's machine user) never reads its own writes
back. ``hide_own_writes`` (before a run) allows it only when the account is the
connection's alone: with two connections on one account, one's writes are changes the other must
carry on. ``keep_learned`` (after a run) lets the connectors keep who Tandem writes as, which
their writes' answers told them.

The hole it opens: a person edits a record between Tandem's read and its write. The write's
answer shows the edit (``engine.distrust_foreign_edits`` notices it and keeps the version read in
the link), but the record's last modifier is now Tandem, so the feed will never show it again.
``remember`` keeps such records (``RecheckRecord``, fenced, before the page's checkpoint is
stored: a crash in between reads the page again and the record twice, never zero times);
``read_again`` fetches them by id on the next run, processes them like changed records and
forgets them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from integrations.leases import fenced
from integrations.models import Connection, RecheckRecord
from integrations.sync.sides import SIDES, chunks

if TYPE_CHECKING:
    from integrations.sync.engine import Run
    from integrations.sync.state import RunState
    from integrations.sync.store import Store


def hide_own_writes(connection: Connection, connectors: Mapping[str, Any]) -> None:
    """Let each connector that can leave Tandem's writes out of its feed (``hide_own_writes``)
    do so when no other connection uses its account."""
    for side, connector in connectors.items():
        if not hasattr(connector, "hide_own_writes"):
            continue
        account_id = connection.account_a_id if side == SIDES[0] else connection.account_b_id
        shared = (
            Connection.objects.filter(Q(account_a_id=account_id) | Q(account_b_id=account_id))
            .exclude(pk=connection.pk)
            .exists()
        )
        connector.hide_own_writes = not shared


def keep_learned(connectors: Mapping[str, Any]) -> None:
    """After a run: let each connector keep what its writes told it of the user Tandem writes
    as (``keep_machine_user``), for the next run's feed."""
    for connector in connectors.values():
        keep = getattr(connector, "keep_machine_user", None)
        if keep is not None:
            keep()


def remember(store: Store, records: Iterable[tuple[str, str]]) -> None:
    """Keep ``(side, record id)`` to read again on the next run (a dry run keeps nothing)."""
    rows = [
        RecheckRecord(connection=store.connection, side=side, record_id=record_id, run=store.run)
        for side, record_id in records
    ]
    if not rows or not store.keeps:
        return
    with fenced(store.lease):
        RecheckRecord.objects.bulk_create(rows)


def read_again(
    ctx: Run,
    state: RunState,
    process_page: Callable[..., bool],
) -> bool:
    """Fetch the records earlier runs remembered by id, process them as changed, then forget
    them (this run's own are the next run's: its read of them came before the edit). A record
    this run already processed (read fresh from its feed or as a counterpart) is forgotten
    unread; a batch whose writes were throttled is kept for the next run. ``False`` when a dry
    run stopped at the breaker."""
    for side in SIDES:
        kept = RecheckRecord.objects.filter(connection=ctx.connection, side=side).exclude(
            run=ctx.store.run
        )
        rows = list(kept.order_by("pk").values_list("pk", "record_id"))
        if not rows:
            continue
        pks: dict[str, list[int]] = {}
        for pk, record_id in rows:
            pks.setdefault(record_id, []).append(pk)
        done = [i for i in pks if i in state.done[side] or not ctx.config.is_source(side)]
        _forget(ctx, [pk for i in done for pk in pks[i]])
        due = [i for i in pks if i not in done]
        for batch in chunks(due, ctx.config.sides[side].lookup_batch_size):
            if state.throttled[side]:
                break
            ctx.beat()
            records = ctx.reader.get_many(side, batch)
            throttled = state.throttled[side]
            if records and not process_page(ctx, state, side, records, checkpoint=None):
                return False
            if state.throttled[side] == throttled:
                _forget(ctx, [pk for i in batch for pk in pks[i]])
    return True


def _forget(ctx: Run, pks: list[int]) -> None:
    if pks and ctx.store.keeps:
        with fenced(ctx.store.lease):
            RecheckRecord.objects.filter(pk__in=pks).delete()
