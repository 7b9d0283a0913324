"""Issue 15's targets, each with the figure this run measured and a verdict: met, MISSED, not
measured (the run did not measure it: a smaller size, ``--quick``, a benchmark left out), or
reported (a comparison the issue asks to show, with no bound).

Pure: ``evaluate`` takes the run's figures (``bench.figures``) and returns the rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from bench.common import Table
from bench.figures import key

MET, MISSED, NOT_MEASURED, REPORTED = "met", "MISSED", "not measured", "reported"
INITIAL_N = 10_000
SMALL_N, BIG_N = 1_000, 100_000
CHANGES = 100
# The change feeds' largest pages: Kustomer's search (500) and Google's connections.list (1,000).
PAGE_SIZES = (500, 1_000)
# "A small constant": the calls a run makes whatever changed (metadata, contact groups, batch
# reads and writes of the changed records' counterparts); 6 in today's incremental runs.
SMALL_CONSTANT = 8
DISPATCHER_N = 10_000
# Edit -> other app by polling: "a user expects about a minute" for the median; the worst is
# bounded by the target interval plus one dispatcher tick (beat's, every 15 s by default).
TARGET_INTERVAL_S = 60
DISPATCHER_TICK_S = 15  # TANDEM_DISPATCH_EVERY_SECONDS, its default


@dataclass(frozen=True)
class Row:
    target: str
    figure: str
    verdict: str


def pages(changes_per_side: int) -> int:
    """Pages of both change feeds that ``changes_per_side`` changes fill (one at least)."""
    return sum(max(1, math.ceil(changes_per_side / size)) for size in PAGE_SIZES)


def _verdict(ok: bool) -> str:
    return MET if ok else MISSED


def _n(n: int) -> str:
    return f"{n:,}"


class _Figures:
    def __init__(self, found: Mapping[str, float]) -> None:
        self.found = found

    def __call__(self, name: str, n: int | None = None) -> float | None:
        return self.found.get(key(name, n))

    def sizes(self, name: str) -> list[int]:
        prefix = f"{name}@"
        return sorted(int(k[len(prefix) :]) for k in self.found if k.startswith(prefix))


def _ratio_row(
    f: _Figures, target: str, bound: float, ours: str, floor: str, unit: str, fmt: str
) -> Row:
    """Tandem's figure over the floor's at INITIAL_N, or at the sizes measured when not."""
    t, fl = f(ours, INITIAL_N), f(floor, INITIAL_N)
    if t is not None and fl:
        return Row(
            target,
            f"x{t / fl:.2f} ({t:{fmt}}{unit} vs {fl:{fmt}}{unit})",
            _verdict(t / fl <= bound),
        )
    others = []
    for n in f.sizes(floor):
        ours_n, floor_n = f(ours, n), f(floor, n)
        if ours_n is not None and floor_n:
            others.append(f"at {_n(n)}: x{ours_n / floor_n:.2f}")
    return Row(target, "; ".join(others), NOT_MEASURED)


def _bound_row(
    f: _Figures, target: str, name: str, n: int, bound: float, unit: str, fmt: str = ",.2f"
) -> Row:
    value = f(name, n)
    if value is None:
        measured = [f"at {_n(m)}: {f(name, m) or 0:{fmt}}{unit}" for m in f.sizes(name)]
        return Row(target, "; ".join(measured), NOT_MEASURED)
    return Row(target, f"{value:{fmt}}{unit}", _verdict(value <= bound))


def evaluate(found: Mapping[str, float], *, default_interval: int) -> list[Row]:
    f = _Figures(found)
    rows = [
        _ratio_row(
            f, f"initial {_n(INITIAL_N)}: wall ≤ 1.2 x floor (localhost)", 1.2,
            "sync.initial.wall", "sync.floor.wall", " s", ".1f",
        ),
        _latency_row(f),
        _ratio_row(
            f, f"initial {_n(INITIAL_N)}: calls ≤ 1.02 x floor", 1.02,
            "sync.initial.calls", "sync.floor.calls", " calls", ".0f",
        ),
        _idle_calls_row(f),
        _bound_row(
            f, f"first run after the initial sync at {_n(BIG_N)}: ≤ 1 s", "sync.idle.wall",
            BIG_N, 1.0, " s",
        ),
        _bound_row(
            f, f"peak RSS at {_n(BIG_N)}: initial scan ≤ 150 MB", "sync.initial.rss_mb",
            BIG_N, 150, " MB",
        ),
        _bound_row(
            f, f"peak RSS at {_n(BIG_N)}: incremental run ≤ 80 MB", "sync.incremental.rss_mb",
            BIG_N, 80, " MB",
        ),
        _flat_row(f),
        _incremental_calls_row(f),
        _engine_row(f),
        Row(
            f"default polling interval: {TARGET_INTERVAL_S} s",
            f"{default_interval} s (a new connection's)",
            _verdict(default_interval <= TARGET_INTERVAL_S),
        ),
        _dispatcher_row(f),
        *_polling_rows(f),
        *_peer_rows(f),
    ]  # fmt: skip
    return rows


def _latency_row(f: _Figures) -> Row:
    target = f"initial {_n(INITIAL_N)}: wall ≤ 1.1 x floor with 100 ms per request"
    ms = f("sync.latency.ms")
    t, fl = f("sync.latency.wall", INITIAL_N), f("sync.latency.floor_wall", INITIAL_N)
    if ms is None or t is None or not fl:
        return Row(target, "BENCH_LATENCY_MS=100 not set", NOT_MEASURED)
    figure = f"x{t / fl:.2f} ({t:.1f} s vs {fl:.1f} s at {ms:.0f} ms)"
    if ms != 100:
        return Row(target, figure, NOT_MEASURED)
    return Row(target, figure, _verdict(t / fl <= 1.1))


def _idle_calls_row(f: _Figures) -> Row:
    bound = pages(0) + SMALL_CONSTANT
    target = (
        f"first run after the initial sync at {_n(BIG_N)}: calls ≤ pages + constant "
        f"({pages(0)} + {SMALL_CONSTANT})"
    )
    return _bound_row(f, target, "sync.idle.calls", BIG_N, bound, " calls", ",.0f")


def _flat_row(f: _Figures) -> Row:
    target = f"incremental {CHANGES} changes: time at {_n(BIG_N)} ≤ 1.2 x at {_n(SMALL_N)}"
    small, big = f("sync.incremental.wall", SMALL_N), f("sync.incremental.wall", BIG_N)
    if small is None or big is None or not small:
        measured = [f"at {_n(n)}: {f('sync.incremental.wall', n) or 0:.2f} s"
                    for n in f.sizes("sync.incremental.wall")]  # fmt: skip
        return Row(target, "; ".join(measured), NOT_MEASURED)
    return Row(
        target, f"x{big / small:.2f} ({big:.2f} s vs {small:.2f} s)", _verdict(big <= 1.2 * small)
    )


def _incremental_calls_row(f: _Figures) -> Row:
    bound = CHANGES + pages(CHANGES // 2) + SMALL_CONSTANT
    target = (
        f"incremental {CHANGES} changes: calls ≤ changes + pages + constant "
        f"({CHANGES} + {pages(CHANGES // 2)} + {SMALL_CONSTANT}), at every N"
    )
    sizes = f.sizes("sync.incremental.calls")
    if not sizes:
        return Row(target, "", NOT_MEASURED)
    calls = {n: f("sync.incremental.calls", n) or 0 for n in sizes}
    figure = ", ".join(f"{c:.0f} at {_n(n)}" for n, c in calls.items())
    if BIG_N not in calls:
        figure += f" ({_n(BIG_N)} not measured)"
    return Row(target, figure, _verdict(all(c <= bound for c in calls.values())))


def _engine_row(f: _Figures) -> Row:
    target = "engine alone: ≥ 40,000 pairs per CPU-second"
    rate = f("engine.pairs_per_cpu_s")
    if rate is None:
        return Row(target, "", NOT_MEASURED)
    warm = f("engine.pairs_per_cpu_s_warm")
    figure = f"{rate:,.0f} pairs/CPU-s"
    if warm is not None:
        figure += f" from empty caches ({warm:,.0f} with phones and names seen before)"
    return Row(target, figure, _verdict(rate >= 40_000))


def _dispatcher_row(f: _Figures) -> Row:
    target = f"dispatcher: constant queries per tick up to {_n(DISPATCHER_N)} connections"
    sizes = f.sizes("dispatcher.queries_per_tick")
    counts = {n: f("dispatcher.queries_per_tick", n) or 0 for n in sizes}
    figure = ", ".join(f"{c:.0f} at {_n(n)}" for n, c in counts.items())
    if DISPATCHER_N not in counts:
        return Row(target, figure, NOT_MEASURED)
    return Row(target, figure, _verdict(len(set(counts.values())) == 1))


def _polling_rows(f: _Figures) -> list[Row]:
    median, worst = f("polling.median_s"), f("polling.worst_s")
    edits, interval = f("polling.edits"), f("polling.interval_s")
    targets = (
        f"edit -> other app by polling: median ≤ {TARGET_INTERVAL_S} s (20 edits, beat + worker)",
        f"edit -> other app by polling: worst ≤ {TARGET_INTERVAL_S + DISPATCHER_TICK_S} s "
        "(interval + one dispatcher tick)",
    )
    if median is None or worst is None or edits is None or interval is None:
        return [Row(target, "", NOT_MEASURED) for target in targets]
    note = f" ({edits:.0f} edits, interval {interval:.0f} s)"
    verdict = NOT_MEASURED if interval != TARGET_INTERVAL_S or edits < 20 else None
    return [
        Row(targets[0], f"{median:.1f} s{note}", verdict or _verdict(median <= TARGET_INTERVAL_S)),
        Row(
            targets[1],
            f"{worst:.1f} s{note}",
            verdict or _verdict(worst <= TARGET_INTERVAL_S + DISPATCHER_TICK_S),
        ),
    ]


def _peer_rows(f: _Figures) -> list[Row]:
    rows = []
    for n in (INITIAL_N, BIG_N):
        ours, peer = f("sync.initial.records_per_s", n), f("peer.initial.records_per_s", n)
        target = f"peer side by side: initial records/s at {_n(n)} (the peer has no HTTP)"
        if ours is None or peer is None:
            smaller = [
                f"at {_n(m)}: {_side_by_side(f, m)}"
                for m in f.sizes("peer.initial.records_per_s")
                if m < n and f("sync.initial.records_per_s", m) is not None
            ]
            rows.append(Row(target, "; ".join(smaller[-1:]), NOT_MEASURED))
            continue
        rows.append(Row(target, _side_by_side(f, n), REPORTED))
    target = (
        f"peer side by side: {CHANGES} changes, time at {_n(BIG_N)} / at {_n(SMALL_N)}: "
        "Tandem's flat (≤ x1.2) where the peer's grows"
    )
    walls = {
        who: (f(f"{name}.incremental.wall", SMALL_N), f(f"{name}.incremental.wall", BIG_N))
        for who, name in (("Tandem", "sync"), ("vdirsyncer", "peer"))
    }
    if any(small is None or big is None or not small for small, big in walls.values()):
        rows.append(Row(target, "", NOT_MEASURED))
        return rows
    growth = {who: big / small for who, (small, big) in walls.items() if small and big}
    figure = ", ".join(
        f"{who} x{growth[who]:.2f} ({big:.2f} s vs {small:.2f} s)"
        for who, (small, big) in walls.items()
        if small and big
    )
    rows.append(Row(target, figure, _verdict(growth["Tandem"] <= 1.2)))
    return rows


def _side_by_side(f: _Figures, n: int) -> str:
    ours, peer = f("sync.initial.records_per_s", n) or 0, f("peer.initial.records_per_s", n) or 0
    rss, peer_rss = f("sync.initial.rss_mb", n) or 0, f("peer.initial.rss_mb", n) or 0
    return f"Tandem {ours:,.0f}/s, {rss:.0f} MB; vdirsyncer {peer:,.0f}/s, {peer_rss:.0f} MB"


def table(rows: list[Row]) -> Table:
    result = Table("Targets of issue 15 (this run's figures)", ["target", "figure", "verdict"])
    for row in rows:
        result.add(row.target, row.figure, row.verdict)
    return result


def summary(rows: list[Row]) -> str:
    verdicts = [row.verdict for row in rows]
    return (
        f"targets: {verdicts.count(MET)} met, {verdicts.count(MISSED)} missed, "
        f"{verdicts.count(NOT_MEASURED)} not measured"
    )
