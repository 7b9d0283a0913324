"""One run of a connection's sync loop (DESIGN.md §4), read top to bottom.

``run_sync`` is the entry point the run service calls. Per page of each side it goes
**list → match → plan → write → store → checkpoint**:

- **list**: a scan (first run, resync, or a side without a usable checkpoint) lists every record
  of both apps once, keeping the listing on disk and an index of its emails
  (``sync/reader.py``), then goes through each side's listing in groups of at least
  ``SCAN_GROUP`` records, so writes go out in full batches. An incremental run reads each
  side's change feed from its checkpoint.
- **match** (``sync/matching.py``, pure): records already applied (same id and version as their
  link) are skipped; linked records follow their link to the counterpart; the others are
  matched by email (a scan asks its index, an incremental run the other app). Two records
  holding one email are reported as duplicates, never guessed at.
- **plan** (``sync/planner.py``, pure): creates, field-by-field updates, tags, link changes,
  issues and findings, decided from plain data.
- **write** (``sync/writer.py``): the store keeps an intent per create (fenced), then the writer
  writes the apps and says what came of it. A dry run's writer writes nothing.
- **store** (``sync/store.py``): links, snapshots, intents, record issues and the page's
  checkpoint in one fenced transaction; the journal (``sync/journal.py``) is filled once from
  the plan and the outcomes.

A crash between write and store leaves either an open intent (the next run finds the created
record by its key: ``sync/recovery.py``) or a stale snapshot (the next run sees both sides equal
and settles it without writing).

Choices made where the design is silent:

- A direction with no rule syncs nothing: its records are read for the checkpoint and not
  evaluated (setup creates one all-contacts rule per synced direction).
- A linked record whose counterpart vanished (``get_many`` no longer returns it, no tombstone)
  is handled like a deletion of the counterpart: the link is marked deleted on that side and the
  pair stops syncing (it is never recreated); with the deletions option on, the surviving record
  gets "Tandem Trash". The same happens to a record deleted with a tombstone.
- Health's "excluded" and "duplicates" come from the last completed scan (an incremental run
  only sees what changed); "failed" is counted after every run, and "in_sync" by every scan
  (an incremental run adds the links it made and takes off those it stopped, rather than
  counting every link of a large connection).
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from integrations.leases import Heartbeat, Lease
from integrations.models import Connection, SyncRun
from integrations.sync import mapping as mapping_mod
from integrations.sync import matching, planner, recheck
from integrations.sync.apps import App, AppConnector
from integrations.sync.config import Config
from integrations.sync.errors import BreakerTripped
from integrations.sync.fields import FieldType
from integrations.sync.interpreter import return_large_blocks, run_collection, scan_switching
from integrations.sync.journal import Journal
from integrations.sync.pipeline import Errands, Worker
from integrations.sync.planner import TRASH_TAG, UNSUBSCRIBE_TAG, PageInput, PairPlan, Plan
from integrations.sync.reader import Progress, Reader
from integrations.sync.records import Checkpoint, Contact, checkpoint_problem
from integrations.sync.recovery import recover_intents
from integrations.sync.selectors import load_config
from integrations.sync.sides import SIDES, Side, chunks, other
from integrations.sync.state import RunState
from integrations.sync.store import DryStore, Store
from integrations.sync.writer import AppWriter, DryWriter, Outcomes, Sending, Writer

logger = logging.getLogger(__name__)

# A scan's groups whose writes may be under way at once: each app's writes go out one at a
# time and in order (a lane per app), so while one app takes a group's creates the other
# app's lane and the run's own planning and storing go on with the next groups.
IN_FLIGHT = 2


@dataclass(frozen=True)
class Edges:
    """Where a run's effects go: the store it keeps its rows in and the writer of the apps."""

    store: type[Store]
    writer: Callable[[Config, Mapping[str, App], Store], Writer]


REAL = Edges(Store, AppWriter)
DRY = Edges(DryStore, DryWriter)


@dataclass(frozen=True)
class Run:
    """What one run works with, fixed for its length; what changes is in ``RunState``."""

    connection: Connection
    apps: dict[str, App]
    config: Config
    reader: Reader
    store: Store
    writer: Writer
    journal: Journal
    beat: Callable[[], None]
    progress: Progress | None
    scan: bool
    # Sends a page's writes in the background (``None``: written in the run's thread).
    worker: Worker | None = None
    # The pages whose writes are under way, oldest first, each stored once its writes are
    # done (``IN_FLIGHT`` at most).
    in_flight: list[InFlight] = field(default_factory=list)


@dataclass
class InFlight:
    """A page sent in the background: what the run stores once its writes are done."""

    plan: Plan
    outcomes: Outcomes
    sending: Sending
    futures: list[Future[None]]
    checkpoint: Checkpoint | None


def run_sync(
    *,
    connection: Connection,
    run: SyncRun,
    lease: Lease | None,
    connector_a: AppConnector,
    connector_b: AppConnector,
    full: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any] | None:
    """Run one pass of ``connection``: scan or incremental, as its state says (always a scan
    through the links with ``full``). ``progress`` is told of every page read.

    Updates and saves ``run``'s counters and phase. A real run writes to both apps and keeps
    links, snapshots, intents, record issues and checkpoints, every one of them fenced by
    ``lease`` (``LeaseLost`` propagates). A dry run (``run`` made as one) writes nothing (no
    app write, no link, checkpoint, intent or issue) and returns its plan: a JSON-able dict
    with ``phase``, ``counts`` (the run counters it would reach, reads left out), per side
    ``a`` / ``b`` the ``create``, ``update`` (field-level before/after), ``tag`` and ``untag``
    items, the ``links``, ``excluded``, ``duplicates``, ``conflicts`` lists, ``breaker`` (why a
    real run would stop, or "") and ``truncated`` (lists are capped at ``PLAN_ITEM_LIMIT``
    items).

    Raises ``BreakerTripped`` (real runs only) when a run would tag more than
    ``TANDEM_MASS_TAG_SHARE`` of a side, unless ``connection.mass_tag_confirmed``.
    """
    edges = DRY if run.dry_run else REAL
    with run_collection():
        journal = sync_connection(
            connection=connection,
            run=run,
            lease=lease,
            apps={"a": App("a", connector_a), "b": App("b", connector_b)},
            edges=edges,
            full=full,
            progress=progress,
        )
    return None if edges.store.keeps else journal.as_plan()


def sync_connection(
    *,
    connection: Connection,
    run: SyncRun,
    lease: Lease | None,
    apps: dict[str, App],
    edges: Edges,
    full: bool = False,
    progress: Progress | None = None,
) -> Journal:
    """``run_sync`` with its effects' edges handed in; returns the run's journal."""
    # A checkpoint no connector wrote (edited by hand, say) cannot say where to read from: the
    # run scans again, which goes through the links and creates nothing twice.
    unusable = {
        side: problem
        for side in SIDES
        if (problem := checkpoint_problem(connection.checkpoint(side)))
    }
    # ``full``: a scan through the links without clearing the stored checkpoints first (a dry
    # run of a resync must leave them as they are).
    scan = (
        full
        or connection.status == Connection.Status.SCANNING
        or bool(unusable)
        or not connection.checkpoint_a
        or not connection.checkpoint_b
    )
    store = edges.store(connection, run, lease)
    journal = store.new_journal(SyncRun.Phase.SCAN if scan else SyncRun.Phase.INCREMENTAL)
    error = ""
    if unusable:
        error = (
            " ".join(
                f"The stored {apps[side].name} checkpoint {problem}."
                for side, problem in unusable.items()
            )
            + " Both apps were scanned again."
        )
        logger.warning("connection %s: %s", connection.pk, error)
    store.start(journal.phase, error)
    state = RunState()
    # Renews the lease as pages go by, so a live run keeps its (short) lease.
    beat = Heartbeat(lease)
    # What the run's threads hand to this one (a refreshed token to store).
    errands = Errands()
    reader = Reader(apps, scan=scan, beat=beat, errands=errands)
    # A real run sends each page's writes in the background (to both apps at once) while it
    # plans the next page, when both apps may be called from threads.
    threads = all(app.threads for app in apps.values())
    worker = Worker(errands=errands) if edges.store.keeps and threads else None
    ctx: Run | None = None
    kept = contextlib.ExitStack()
    for app in apps.values():
        kept.enter_context(app.credentials_kept_by(errands))
    if scan:
        # The scan's reading and writing threads get the interpreter's lock back sooner from
        # this busy one (``interpreter.py``).
        kept.enter_context(scan_switching())
    # The run's large blocks (the apps' answers) go back to the system when freed.
    return_large_blocks()
    try:
        if scan:
            # Listed before the configuration is loaded: an app that discovers its custom
            # fields from its records learns them from this listing at no extra call.
            reader.list_sides(state, beat, progress)
        config = load_config(connection, apps["a"], apps["b"])
        ctx = Run(
            connection=connection,
            apps=apps,
            config=config,
            reader=reader,
            store=store,
            writer=edges.writer(config, apps, store),
            journal=journal,
            beat=beat,
            progress=progress,
            scan=scan,
            worker=worker,
        )
        recover_intents(config, apps, store, journal, state)
        if (
            all(read_side(ctx, state, side) for side in SIDES)
            and land(ctx, state)
            and recheck.read_again(ctx, state, process_page)
            and land(ctx, state)
        ):
            retry_issues(ctx, state)
        land(ctx, state)
    except BaseException:
        if ctx is not None:
            # The run stops; what the pages sent last did is still journaled and kept, as it
            # was before the next page was read when pages were not overlapped (without their
            # checkpoints: a page before them may not be stored).
            land_after_error(ctx, state)
        raise
    finally:
        if worker is not None:
            worker.close()
        reader.close()
        kept.close()
        store.save_notes(journal)
        store.save_counters(journal, apps)
    store.finish(journal, state, scan=scan)
    return journal


def read_side(ctx: Run, state: RunState, side: Side) -> bool:
    """Every page of ``side``; ``False`` when the run stopped at the breaker (a dry run)."""
    checkpoint = None if ctx.scan else (ctx.connection.checkpoint(side) or None)
    pages = ctx.reader.pages(side, checkpoint)
    try:
        for page in pages:
            ctx.beat()
            ctx.journal.read(side, len(page.records))
            if ctx.progress is not None:
                ctx.progress("scan" if ctx.scan else "changes", side, len(page.records))
            if not ctx.config.is_source(side):
                if not land(ctx, state):
                    return False
                save(ctx, state, Plan(source=side), Outcomes(), checkpoint=page.checkpoint)
                continue
            if not process_page(ctx, state, side, page.records, checkpoint=page.checkpoint):
                return False
            if state.throttled[side]:
                break
    finally:
        # A change feed read ahead in a thread stops reading.
        close = getattr(pages, "close", None)
        if close is not None:
            close()
    return True


def retry_issues(ctx: Run, state: RunState) -> None:
    """Records with a due open issue are fetched again and retried, changed or not."""
    now = timezone.now()
    for side in SIDES:
        if not ctx.config.is_source(side):
            continue
        due = [i for i in ctx.store.due_issue_ids(side, now) if i not in state.done[side]]
        for batch in chunks(due, ctx.config.sides[side].lookup_batch_size):
            if state.throttled[side]:
                break
            ctx.beat()
            records = ctx.reader.get_many(side, batch)
            found = {record.id for record in records}
            gone = [record_id for record_id in batch if record_id not in found]
            if gone:
                ctx.store.resolve_gone(side, gone)
            if records and not process_page(ctx, state, side, records, checkpoint=None):
                return


def process_page(
    ctx: Run,
    state: RunState,
    source: Side,
    records: list[Contact],
    *,
    checkpoint: Checkpoint | None,
) -> bool:
    """One page: match, plan, write, store. ``False`` when a dry run stopped at the breaker.

    With a worker (a real run) the page's writes go out in the background, to both apps at
    once, each app's in its own lane (one write at a time, in the order the pages were
    sent). In a scan the next pages are matched and planned while they are under way, each
    page's intents kept and its writes sent at once while fewer than ``IN_FLIGHT`` pages are
    under way (else once the oldest is done); the pages whose writes are done are stored, in
    reading order, while the later ones go out. So an intent is kept before its create is
    sent, and a page (with its checkpoint) is stored once its writes are done and every page
    before it is stored; after a throttled page its side's later pages keep no checkpoint."""
    page = match(ctx, state, source, records)
    plan = planner.plan_page(ctx.config, page)
    before = (state.mass_tagged.copy(), state.in_sync_delta)
    added = {side: plan.done[side] - state.done[side] for side in SIDES}
    for side in SIDES:
        state.done[side] |= plan.done[side]
    state.in_sync_delta += plan.in_sync_delta
    breaker = check_breaker(ctx, state, plan)
    outcomes = Outcomes()
    if ctx.worker is None:
        try:
            ctx.writer.write(plan, outcomes, breaker=breaker)
        finally:
            ctx.journal.record(ctx.config, plan, outcomes)
            # Writes the apps accepted before a failure stay audited too.
            ctx.store.save_audit(ctx.journal)
        return apply_outcomes(ctx, state, plan, outcomes, checkpoint=checkpoint)
    # The pages sent before whose writes are done, and the oldest one while too many are
    # under way (its writes waited for).
    landed: list[InFlight] = []
    while ctx.in_flight and (len(ctx.in_flight) >= IN_FLIGHT or _done(ctx.in_flight[0])):
        landed.append(collect(ctx))
    if breaker or any(flight.outcomes.throttled for flight in landed):
        # This page goes no further (the breaker: every page before it is stored first), or
        # may not (a page before was throttled): the pages before are stored first, as the
        # run stands.
        for flight in landed:
            apply_landed(ctx, state, flight)
        landed = []
        if breaker:
            land(ctx, state)
    if state.throttled[source]:
        # A page before was throttled: its side is read no further, so this page is left
        # as if it had not been read.
        for side in SIDES:
            state.done[side] -= added[side]
        state.mass_tagged, state.in_sync_delta = before
        return True
    assert isinstance(ctx.writer, AppWriter)
    try:
        sending = ctx.writer.begin(plan, outcomes, breaker=breaker)
    except BaseException:
        ctx.journal.record(ctx.config, plan, outcomes)
        ctx.store.save_audit(ctx.journal)
        land_after_error(ctx, state, landed)
        raise
    futures = [ctx.worker.submit(task, lane=target) for target, task in sending.tasks]
    ctx.in_flight.append(InFlight(plan, outcomes, sending, futures, checkpoint))
    for flight in landed:
        apply_landed(ctx, state, flight)
    # An incremental run's next page asks the apps (lookups by email): only the two apps'
    # writes overlap there, and the page is stored before the next is read.
    return ctx.scan or land(ctx, state)


def _done(flight: InFlight) -> bool:
    return all(future.done() for future in flight.futures)


def land(ctx: Run, state: RunState) -> bool:
    """Wait for the pages sent in the background, if any, then journal and store each, in the
    order they were sent. ``False`` when the run must stop here."""
    while ctx.in_flight:
        if not apply_landed(ctx, state, collect(ctx)):
            return False
    return True


def land_after_error(ctx: Run, state: RunState, collected: Iterable[InFlight] = ()) -> None:
    """After an error: what each page sent in the background did (``collected``: pages whose
    writes were gathered already) is journaled and stored, as far as can be, without its
    checkpoint (a page before it may have failed)."""
    for flight in collected:
        with contextlib.suppress(Exception):
            flight.checkpoint = None
            apply_landed(ctx, state, flight)
    while ctx.in_flight:
        with contextlib.suppress(Exception):
            flight = collect(ctx)
            flight.checkpoint = None
            apply_landed(ctx, state, flight)


def collect(ctx: Run) -> InFlight:
    """The oldest page sent in the background, once its writes are done: its outcomes
    gathered and journaled (an error of its writes raised then, after the journal)."""
    flight = ctx.in_flight.pop(0)
    worker = ctx.worker
    assert worker is not None
    error: BaseException | None = None
    beat = ctx.beat
    for future in flight.futures:
        try:
            worker.result(future, beat=beat)
        except BaseException as exc:
            # The other app's writes are still waited for: what it accepted is audited too.
            error = error or exc
            beat = _no_beat
    flight.sending.merge()
    ctx.journal.record(ctx.config, flight.plan, flight.outcomes)
    ctx.store.save_audit(ctx.journal)
    if error is not None:
        raise error
    return flight


def apply_landed(ctx: Run, state: RunState, flight: InFlight) -> bool:
    return apply_outcomes(ctx, state, flight.plan, flight.outcomes, checkpoint=flight.checkpoint)


def _no_beat() -> None:
    pass


def apply_outcomes(
    ctx: Run, state: RunState, plan: Plan, outcomes: Outcomes, *, checkpoint: Checkpoint | None
) -> bool:
    """After a page's writes: stored with its checkpoint (none when a write was throttled).
    ``False`` when a dry run stopped at the breaker."""
    source = plan.source
    if outcomes.stopped:
        return False
    recheck.remember(ctx.store, distrust_foreign_edits(ctx.config, outcomes))
    for create, record in outcomes.created:
        if record is not None:
            state.done[create.target].add(record.id)
    if outcomes.throttled:
        note_throttled(ctx, state, source, outcomes)
    if state.throttled[source]:
        # This page, or one of its side before it, was throttled: the next run reads them
        # again (what was applied is skipped then by its links' versions).
        checkpoint = None
    save(ctx, state, plan, outcomes, checkpoint=checkpoint)
    return True


def distrust_foreign_edits(config: Config, outcomes: Outcomes) -> list[tuple[str, str]]:
    """A record the run wrote that came back holding a mapped value other than the one the
    pair's new snapshot expects was edited by someone else between the run's read and its
    write (an app that takes an update without a version, as Kustomer's PATCH does). Its new
    version is not kept: the link keeps the version the run read, so the next run reads the
    record as changed and merges the edit, instead of skipping it as the run's own write.
    The tags the run itself added or removed on the record are left out of the comparison.
    Returns those records, ``(side, id)``, to read again by id (``sync/recheck.py``)."""
    distrusted: list[tuple[str, str]] = []
    own_tags: dict[tuple[str, str], set[str]] = defaultdict(set)
    for op, _ in outcomes.tagged:
        own_tags[(op.side, op.record_id)].add(op.tag)
    written: list[tuple[str, PairPlan, Contact | None]] = list(outcomes.updated)
    written += [(op.side, op.pair, record) for op, record in outcomes.tagged if op.pair]
    for side, pair, record in written:
        record_id = pair.record_id(side)
        if record is None or record_id not in outcomes.versions[side]:
            continue
        tags = own_tags[(side, record_id)]
        effects = pair.effects.get(side)
        if effects is not None:
            tags |= {*effects.add_tags, *effects.remove_tags}
        expected = pair.merged.snapshot[side]
        if any(_differs(m, side, record, expected, tags) for m in config.mappings):
            del outcomes.versions[side][record_id]
            distrusted.append((side, record_id))
    return distrusted


def _differs(
    m: mapping_mod.Mapping,
    side: str,
    record: Contact,
    expected: Mapping[str, Any],
    own_tags: set[str],
) -> bool:
    key = m.key(side)
    if key not in expected:
        return False
    now, then = m.read(side, record), expected[key]
    if own_tags and m.spec(side).type == FieldType.TAGS:
        mine = {t for tag in own_tags for t in m.normalize(side, [tag]) or []}
        now = [t for t in now or [] if t not in mine] or None
        then = [t for t in then or [] if t not in mine] or None
    return bool(now != then)


def match(ctx: Run, state: RunState, source: Side, records: list[Contact]) -> PageInput:
    """What the planner needs of a page: its fresh records, their links and counterparts, and
    the email matches of the unlinked ones."""
    target = other(source)
    fresh = matching.fresh_records(records, state.done[source])
    applied = ctx.store.applied_ids(source, fresh)
    # Made storable once known not to be applied already: an own write read back (the first
    # run after a scan reads tens of thousands) costs no more than its id and version.
    fresh = [r.make_storable() for r in fresh if r.id not in applied]
    page = PageInput(source=source, problems=[r for r in fresh if r.problem])
    fresh = [r for r in fresh if not r.problem]
    split = matching.split_by_links(source, fresh, ctx.store.links_for(source, fresh))
    page.rekeyed = split.rekeyed
    page.linked = matching.live(split.linked)
    # Counterparts of deleted records are fetched too: the survivor's current id is the one to
    # tag (an id may have changed since the link was made).
    page.counterparts = ctx.reader.fetch(target, [link.id(target) for _, link in page.linked])
    page.no_email = [r for r in split.unlinked if not r.normalized_emails]
    candidates = [r for r in split.unlinked if r.normalized_emails]
    if not candidates:
        return page
    emails = sorted({e for r in candidates for e in r.normalized_emails})
    same_side = ctx.reader.holders(source, emails, state)
    other_side = ctx.reader.holders(target, emails, state)
    other_ids = sorted({i for ids in other_side.values() for i in ids})
    page.matches = matching.match_by_email(
        candidates,
        same_side=same_side,
        other_side=other_side,
        linked_there=ctx.store.linked_ids(target, other_ids, state.previous[target]),
        taken=state.done[target],
        also_taken=matching.followed_ids(target, page.linked, page.counterparts),
    )
    page.matched = ctx.reader.fetch(target, [m for _, m in page.matches.pairs])
    return page


def check_breaker(ctx: Run, state: RunState, plan: Plan) -> str:
    """Why the page must not be written: it would tag more than ``TANDEM_MASS_TAG_SHARE`` of a
    side as deleted or unsubscribed, unconfirmed. "" to go on."""
    if ctx.connection.mass_tag_confirmed or not plan.mass_tags:
        return ""

    def size(side: str) -> int:
        if side not in state.side_sizes:
            state.side_sizes[side] = ctx.store.live_links(side)
        return state.side_sizes[side]

    message, totals = planner.breaker_message(
        ctx.config, plan.mass_tags, state.mass_tagged, size, share=settings.TANDEM_MASS_TAG_SHARE
    )
    if not message:
        for side, total in totals.items():
            state.mass_tagged[side] = total
    return message


def note_throttled(ctx: Run, state: RunState, side: str, outcomes: Outcomes) -> None:
    """Throttling is no failure of the records: no issue, no "failed" count. Their page's
    checkpoint is not saved and the side is read no further, so the next run reads them again
    (what this page did apply is skipped then by its links' versions)."""
    state.throttled[side] += len(outcomes.throttled)
    apps = sorted({ctx.apps[f.target].name for f in outcomes.throttled})
    note = (
        f"{' and '.join(apps)} kept answering 429 (too many requests): "
        f"{state.throttled[side]} write(s) from {ctx.apps[side].name} were left for the next run."
    )
    logger.warning("connection %s: %s", ctx.connection.pk, note)
    ctx.store.add_error(note, replaces=state.throttle_note)
    state.throttle_note = note


def save(
    ctx: Run, state: RunState, plan: Plan, outcomes: Outcomes, *, checkpoint: Checkpoint | None
) -> None:
    """Store the page and its checkpoint, then the run's counters."""
    side = plan.source
    ctx.store.save_page(
        plan, outcomes, side=side, name=ctx.apps[side].name, checkpoint=checkpoint, state=state
    )
    ctx.store.save_counters(ctx.journal, ctx.apps)


__all__ = [
    "DRY",
    "REAL",
    "TRASH_TAG",
    "UNSUBSCRIBE_TAG",
    "BreakerTripped",
    "run_sync",
    "sync_connection",
]
