"""Writers carry a plan out and say what came of it.

``AppWriter`` writes to the apps in full batches (creates, then updates, then tags), after the
store has kept an intent for every create; ``DryWriter`` writes nothing and reports every
planned write as accepted, which is what a dry run's plan counts. Both stop at the breaker: the
real one raises ``BreakerTripped`` before writing the page, the dry one notes why and stops.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, TypeVar

from integrations.sync.apps import App
from integrations.sync.config import Config
from integrations.sync.errors import BreakerTripped
from integrations.sync.pipeline import closing_connections
from integrations.sync.planner import CreatePlan, Failure, PairPlan, Plan, TagOp
from integrations.sync.records import Contact, ContactUpdate, NewContact, WriteResult
from integrations.sync.sides import SIDES, chunks, other

NO_ANSWER = "The app answered nothing for this record."
T = TypeVar("T")


@dataclass
class Intent:
    """A create intent as kept by the store: its row and the key the record is stamped with."""

    pk: int | None
    key: str


@dataclass
class Outcomes:
    """What came of a plan's writes, in the order they were made."""

    # Creates the app accepted, with the record it made (``None`` in a dry run).
    created: list[tuple[CreatePlan, Contact | None]] = field(default_factory=list)
    # Every create's answer and intent, by source record id (real runs).
    create_results: dict[str, WriteResult] = field(default_factory=dict)
    intents: dict[str, Intent] = field(default_factory=dict)
    updated: list[tuple[str, PairPlan, Contact | None]] = field(default_factory=list)
    tagged: list[tuple[TagOp, Contact | None]] = field(default_factory=list)
    # Pairs one of whose writes failed: their link is not advanced.
    failed_pairs: list[PairPlan] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    # Writes the target app throttled: left for the next run, not failed.
    throttled: list[Failure] = field(default_factory=list)
    # Versions the apps answered with, per side and record id.
    versions: dict[str, dict[str, str]] = field(default_factory=lambda: {s: {} for s in SIDES})
    # Source records whose create succeeded.
    ok_ids: dict[str, set[str]] = field(default_factory=lambda: {s: set() for s in SIDES})
    # Why a dry run stopped before this page (the breaker a real run would trip).
    stopped: str = ""

    def failed_pair_ids(self) -> set[int]:
        """The ``id()`` of each failed pair: a pair failed when its ``id()`` is in it (pairs are
        told apart by identity, and the plan holding them outlives the check)."""
        return {id(p) for p in self.failed_pairs}

    def fail(
        self, side: str, record_id: str, target: str, reason: str, *, throttled: bool = False
    ) -> None:
        if throttled:
            self.throttled.append(Failure(side, record_id, target, reason))
            return
        reason = reason or "The app refused the record without a reason."
        self.failures.append(Failure(side, record_id, target, reason))


@dataclass
class Sending:
    """A plan's writes under way: a task per target app, each filling its own outcomes."""

    outcomes: Outcomes
    # (target app, its writes): each app's writes go out in its own lane.
    tasks: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    parts: list[Outcomes] = field(default_factory=list)

    def merge(self) -> Outcomes:
        """The parts' outcomes added to the plan's, in side order (what failed half-way
        included: the apps hold what they accepted)."""
        into = self.outcomes
        for part in self.parts:
            into.created += part.created
            into.create_results.update(part.create_results)
            into.updated += part.updated
            into.tagged += part.tagged
            into.failed_pairs += part.failed_pairs
            into.failures += part.failures
            into.throttled += part.throttled
            for side in SIDES:
                into.versions[side].update(part.versions[side])
                into.ok_ids[side] |= part.ok_ids[side]
        self.parts = []
        return into


def _writes_to(plan: Plan, target: str) -> bool:
    return (
        any(c.target == target for c in plan.creates)
        or any(p.merged.changes[target] for p in plan.pairs)
        or any(op.side == target for op in plan.tags)
    )


class IntentKeeper(Protocol):
    def keep_intents(self, creates: list[CreatePlan]) -> dict[str, Intent]: ...


class Writer(Protocol):
    def write(self, plan: Plan, outcomes: Outcomes, *, breaker: str) -> None: ...


class AppWriter:
    """Writes a plan to the apps."""

    def __init__(self, config: Config, apps: Mapping[str, App], intents: IntentKeeper) -> None:
        self.cfg = config
        self.apps = apps
        self.intents = intents

    def write(self, plan: Plan, outcomes: Outcomes, *, breaker: str) -> None:
        """The plan's writes one after the other: creates, then updates, then tags."""
        self.keep(plan, outcomes, breaker=breaker)
        tags = [op for target in SIDES for op in self.write_creates(plan, target, outcomes)]
        for side in SIDES:
            self.write_updates(plan, side, outcomes)
        self.write_tags([*plan.tags, *tags], outcomes)

    def keep(self, plan: Plan, outcomes: Outcomes, *, breaker: str) -> None:
        """Raise the breaker, or keep an intent per create before any is sent."""
        if breaker:
            raise BreakerTripped(breaker)
        if plan.creates:
            outcomes.intents.update(self.intents.keep_intents(plan.creates))

    def begin(self, plan: Plan, outcomes: Outcomes, *, breaker: str) -> Sending:
        """``keep`` (in the caller's thread: the intents are the store's), then the plan's
        writes as one task per target app. The two apps' tasks share nothing and may run side
        by side, each filling outcomes of its own; ``Sending.merge`` gathers them."""
        self.keep(plan, outcomes, breaker=breaker)
        sending = Sending(outcomes)
        for target in SIDES:
            if _writes_to(plan, target):
                part = Outcomes(intents=outcomes.intents)
                sending.parts.append(part)
                sending.tasks.append((target, partial(self.write_target, plan, target, part)))
        return sending

    def write_target(self, plan: Plan, target: str, outcomes: Outcomes) -> None:
        """The plan's writes to ``target``: creates, then updates, then tags."""
        tags = self.write_creates(plan, target, outcomes)
        self.write_updates(plan, target, outcomes)
        self.write_tags([*(op for op in plan.tags if op.side == target), *tags], outcomes)

    def write_creates(self, plan: Plan, target: str, outcomes: Outcomes) -> list[TagOp]:
        """Creates on ``target``, in batches; returns the tags of the records made."""
        creates = [c for c in plan.creates if c.target == target]
        tags: list[TagOp] = []
        if creates:
            app = self.apps[target]
            batches = list(chunks(creates, self.cfg.sides[target].create_batch_size))
            requests = [
                [
                    NewContact(
                        ref=c.record.id,
                        values=dict(c.values),
                        idempotency_key=outcomes.intents[c.record.id].key,
                        unsubscribed=c.unsubscribed,
                    )
                    for c in batch
                ]
                for batch in batches
            ]
            for answers, batch in zip(sent(app, app.create_many, requests), batches, strict=False):
                results = {r.ref: r for r in answers}
                for create in batch:
                    result = results.get(create.record.id) or WriteResult(
                        ref=create.record.id, error=NO_ANSWER
                    )
                    outcomes.create_results[create.record.id] = result
                    if result.ok and result.record is not None:
                        outcomes.created.append((create, result.record))
                        outcomes.versions[target][result.record.id] = result.record.version
                        outcomes.ok_ids[create.source].add(create.record.id)
                        tags.extend(
                            TagOp(target, tag, True, result.record.id) for tag in create.add_tags
                        )
                    else:
                        outcomes.fail(
                            create.source, create.record.id, target, result.error,
                            throttled=result.throttled,
                        )  # fmt: skip
        return tags

    def write_updates(self, plan: Plan, side: str, outcomes: Outcomes) -> None:
        pairs = [p for p in plan.pairs if p.merged.changes[side]]
        app = self.apps[side]
        batches = list(chunks(pairs, self.cfg.sides[side].update_batch_size))
        requests = [
            [
                ContactUpdate(
                    id=p.record_id(side),
                    changes=dict(p.merged.changes[side]),
                    version=p.records[side].version,
                )
                for p in batch
            ]
            for batch in batches
        ]
        for answers, batch in zip(sent(app, app.update_many, requests), batches, strict=False):
            results = {r.ref: r for r in answers}
            for pair in batch:
                result = results.get(pair.record_id(side)) or WriteResult(
                    ref=pair.record_id(side), error=NO_ANSWER
                )
                if result.ok and result.record is not None:
                    outcomes.versions[side][pair.record_id(side)] = result.record.version
                    outcomes.updated.append((side, pair, result.record))
                else:
                    outcomes.failed_pairs.append(pair)
                    source = other(side)
                    outcomes.fail(
                        source, pair.record_id(source), side, result.error,
                        throttled=result.throttled,
                    )  # fmt: skip

    def write_tags(self, ops: list[TagOp], outcomes: Outcomes) -> None:
        grouped: dict[tuple[str, str, bool], dict[str, TagOp]] = defaultdict(dict)
        for op in ops:
            grouped[(op.side, op.tag, op.add)][op.record_id] = op
        for (side, tag, add), owners in grouped.items():
            app = self.apps[side]
            call = app.tag if add else app.untag
            for batch in chunks(list(owners), self.cfg.sides[side].update_batch_size):
                for result in call(batch, tag):
                    op = owners.get(result.ref) or TagOp(side, tag, add, result.ref)
                    if result.ok and result.record is not None:
                        outcomes.versions[side][result.ref] = result.record.version
                        outcomes.tagged.append((op, result.record))
                        continue
                    if op.pair is not None:
                        outcomes.failed_pairs.append(op.pair)
                        source = other(side)
                        outcomes.fail(
                            source, op.pair.record_id(source), side, result.error,
                            throttled=result.throttled,
                        )  # fmt: skip
                    else:
                        # A tag on a record just created or on a deletion's survivor: the
                        # issue is the tagged record's own. (Even when throttled: reading the
                        # page again would not redo it, so it is retried as a record issue.)
                        outcomes.fail(side, result.ref, side, result.error)


def sent(
    app: App, call: Callable[[list[T]], list[WriteResult]], batches: list[list[T]]
) -> Iterator[list[WriteResult]]:
    """``call``'s answer to each batch, in order. An app whose connector allows it
    (``write_batches_at_once``, and calls from threads) gets that many batches at once, each
    in a thread of its own; after a failure no further batch is sent (the batches under way
    finish, their records found again by their intents' keys)."""
    at_once = int(getattr(app.connector, "write_batches_at_once", 1) or 1)
    if at_once < 2 or not app.threads or len(batches) < 2:
        yield from (call(batch) for batch in batches)
        return
    with ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="tandem-batch") as pool:
        pending = iter(batches)
        under_way: deque[Future[list[WriteResult]]] = deque()
        try:
            for batch in itertools.islice(pending, at_once):
                under_way.append(pool.submit(closing_connections, partial(call, batch)))
            while under_way:
                answer = under_way.popleft().result()
                for batch in itertools.islice(pending, 1):
                    under_way.append(pool.submit(closing_connections, partial(call, batch)))
                yield answer
        finally:
            for future in under_way:
                future.cancel()


class DryWriter:
    """Writes nothing: every planned write counts as accepted, as a real run would hope."""

    def __init__(self, *_: object) -> None:
        pass

    def write(self, plan: Plan, outcomes: Outcomes, *, breaker: str) -> None:
        for create in plan.creates:
            outcomes.created.append((create, None))
        for pair in plan.pairs:
            for side in SIDES:
                if pair.merged.changes[side]:
                    outcomes.updated.append((side, pair, None))
        for op in plan.tags:
            outcomes.tagged.append((op, None))
        for create in plan.creates:
            for tag in create.add_tags:
                outcomes.tagged.append((TagOp(create.target, tag, True, ""), None))
        outcomes.stopped = breaker
