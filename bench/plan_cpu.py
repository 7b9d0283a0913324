"""Plan CPU: the initial scan's own work per record with no HTTP and no database (on demand:
``python -m bench plan_cpu``; not in ``make bench``).

N records a side from ``demo_people(1.5 N)``, the middle N/2 people on both sides (as the sync
benchmark seeds them): each record made storable and indexed by email, then each side's
records matched by email and planned (``plan_page``): the shared people linked (a merge with
no snapshot), the others created on the other side (names split or joined). What the scan
does around that (listing, links, intents, journal, HTTP) is measured by ``sync``, not here.
Caches start empty, as in a fresh process.
"""

from __future__ import annotations

import cProfile
import statistics

from bench.common import Table, profile_table, timed
from bench.engine_cpu import FULL_FIELDS, RULE_A, SENTIMENT, SPLIT_FIELDS, build_mappings
from integrations.sync import names as names_mod
from integrations.sync import values as values_mod
from integrations.sync.config import Config, RuleConfig, SideConfig
from integrations.sync.fields import NameStyle
from integrations.sync.matching import fresh_records, match_by_email
from integrations.sync.planner import PageInput, plan_page
from integrations.sync.records import Contact
from integrations.sync.sides import SIDES, other
from sandbox.demo_people import demo_people


def build_config() -> Config:
    return Config(
        sides={
            "a": SideConfig(
                "a",
                "Kustomer",
                NameStyle.FULL,
                {spec.key: spec for spec in FULL_FIELDS},
                {SENTIMENT.key: SENTIMENT},
            ),
            "b": SideConfig(
                "b", "Google", NameStyle.SPLIT, {spec.key: spec for spec in SPLIT_FIELDS}, {}
            ),
        },
        mappings=tuple(build_mappings()),
        rules={
            "a": (RuleConfig(1, "a", RULE_A[:1], (), False),),
            "b": (RuleConfig(2, "b", (), (), False),),
        },
        flows={"a": True, "b": True},
        winner="a",
        avoid_duplicates=True,
        deletions=False,
        unsubscribes=False,
    )


def build_sides(count: int) -> dict[str, list[Contact]]:
    people = demo_people(count * 3 // 2, seed=42)
    side_a = [
        Contact(
            id=f"a{index}",
            values={
                "emails": list(person.emails),
                "phones": list(person.phones),
                "full_name": person.full_name,
                "company": person.company,
                "custom.loyaltyTierStr": "gold",
            },
        )
        for index, person in enumerate(people[:count])
    ]
    side_b = [
        Contact(
            id=f"b{index}",
            values={
                "emails": list(person.emails),
                "phones": list(person.phones),
                "first_name": person.first_name,
                "last_name": person.last_name,
                "company": person.company,
                "job_title": person.job_title,
                "custom.loyalty": "gold",
            },
        )
        for index, person in enumerate(people[count // 2 :])
    ]
    return {"a": side_a, "b": side_b}


def plan_scan(config: Config, sides: dict[str, list[Contact]]) -> None:
    holders: dict[str, dict[str, list[str]]] = {side: {} for side in SIDES}
    for side in SIDES:
        for record in sides[side]:
            record.make_storable()
            for email in record.normalized_emails:
                holders[side].setdefault(email, []).append(record.id)
    done: dict[str, set[str]] = {side: set() for side in SIDES}
    for source in SIDES:
        target = other(source)
        fresh = fresh_records(sides[source], done[source])
        matches = match_by_email(
            [record for record in fresh if record.normalized_emails],
            same_side=holders[source],
            other_side=holders[target],
            linked_there=set(),
            taken=done[target],
        )
        plan = plan_page(
            config,
            PageInput(
                source=source,
                no_email=[record for record in fresh if not record.normalized_emails],
                matches=matches,
                matched={record.id: record for record in sides[target]},
            ),
        )
        for side in SIDES:
            done[side] |= plan.done[side]


def run(quick: bool) -> tuple[list[Table], str]:
    count = 2_000 if quick else 10_000
    passes = 3
    config = build_config()
    timers = []
    for _ in range(passes):
        sides = build_sides(count)
        values_mod.clear_phone_cache()
        names_mod._parse.cache_clear()
        with timed() as timer:
            plan_scan(config, sides)
        timers.append(timer)
    records = 2 * count
    median = statistics.median(timer.cpu for timer in timers)
    table = Table(
        f"Plan CPU: an initial scan's own work per record (no HTTP, no database), "
        f"median of {passes} passes",
        ["records", "cpu s", "µs / record", "best µs / record"],
    )
    best = min(timer.cpu for timer in timers)
    table.add(records, median, median / records * 1e6, best / records * 1e6)

    sides = build_sides(count)
    values_mod.clear_phone_cache()
    names_mod._parse.cache_clear()
    profiler = cProfile.Profile()
    profiler.enable()
    plan_scan(config, sides)
    profiler.disable()
    profile = profile_table("Plan CPU profile: top functions by own time", profiler)
    return [table, profile], f"plan: {median / records * 1e6:,.0f} µs/record"
