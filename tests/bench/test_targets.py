from bench import figures, targets
from bench.common import Table


def full_run() -> dict[str, float]:
    """A full run's figures, every target met."""
    found = {
        "sync.initial.wall@10000": 5.5, "sync.floor.wall@10000": 5.0,
        "sync.initial.calls@10000": 162, "sync.floor.calls@10000": 161,
        "sync.latency.ms": 100, "sync.latency.wall@10000": 23.0,
        "sync.latency.floor_wall@10000": 22.0,
        "sync.idle.calls@100000": 6, "sync.idle.wall@100000": 0.4,
        "sync.initial.rss_mb@100000": 140, "sync.incremental.rss_mb@100000": 76,
        "sync.incremental.wall@1000": 0.6, "sync.incremental.wall@100000": 0.66,
        "sync.incremental.calls@1000": 108, "sync.incremental.calls@100000": 108,
        "engine.pairs_per_cpu_s": 41_000,
        "dispatcher.queries_per_tick@100": 2, "dispatcher.queries_per_tick@10000": 2,
        "polling.median_s": 45, "polling.worst_s": 75, "polling.edits": 20,
        "polling.interval_s": 60,
        "sync.initial.records_per_s@10000": 3600, "peer.initial.records_per_s@10000": 900,
        "sync.initial.records_per_s@100000": 1100, "peer.initial.records_per_s@100000": 700,
        "sync.initial.rss_mb@10000": 100, "peer.initial.rss_mb@10000": 60,
        "peer.initial.rss_mb@100000": 153,
        "peer.incremental.wall@1000": 2.0, "peer.incremental.wall@100000": 60.0,
    }  # fmt: skip
    return found


def verdicts(found: dict[str, float], interval: int = 60) -> dict[str, str]:
    return {row.target: row.verdict for row in targets.evaluate(found, default_interval=interval)}


def row(found: dict[str, float], starts: str, interval: int = 60) -> targets.Row:
    rows = targets.evaluate(found, default_interval=interval)
    return next(r for r in rows if r.target.startswith(starts))


def test_a_full_run_at_every_bound_meets_every_target() -> None:
    found = verdicts(full_run())
    assert set(found.values()) == {targets.MET, targets.REPORTED}
    assert list(found.values()).count(targets.REPORTED) == 2
    assert len(found) == 17


def test_wall_over_the_floor_is_met_at_1_2_and_missed_above() -> None:
    found = full_run()
    assert row(found, "initial 10,000: wall").figure == "x1.10 (5.5 s vs 5.0 s)"
    found["sync.initial.wall@10000"] = 6.1
    assert row(found, "initial 10,000: wall ≤ 1.2").verdict == targets.MISSED


def test_a_run_without_10000_is_not_measured_and_shows_the_smaller_sizes() -> None:
    found = {"sync.initial.wall@1000": 1.6, "sync.floor.wall@1000": 0.4}
    result = row(found, "initial 10,000: wall ≤ 1.2")
    assert result.verdict == targets.NOT_MEASURED
    assert result.figure == "at 1,000: x4.00"


def test_the_latency_target_needs_100_ms_per_request() -> None:
    found = full_run()
    assert row(found, "initial 10,000: wall ≤ 1.1").verdict == targets.MET
    found["sync.latency.ms"] = 50
    assert row(found, "initial 10,000: wall ≤ 1.1").verdict == targets.NOT_MEASURED
    del found["sync.latency.ms"]
    assert row(found, "initial 10,000: wall ≤ 1.1").verdict == targets.NOT_MEASURED


def test_calls_over_the_floor_are_bounded_at_1_02() -> None:
    found = full_run()
    found["sync.initial.calls@10000"] = 165  # x1.025
    assert row(found, "initial 10,000: calls").verdict == targets.MISSED


def test_the_idle_run_is_bounded_by_two_empty_pages_and_the_constant() -> None:
    assert targets.pages(0) == 2
    assert targets.pages(50) == 2
    assert targets.pages(600) == 3
    found = full_run()
    found["sync.idle.calls@100000"] = 10
    assert row(found, "first run after the initial sync at 100,000: calls").verdict == targets.MET
    found["sync.idle.calls@100000"] = 170
    assert row(found, "first run after the initial sync at 100,000: calls").verdict == (
        targets.MISSED
    )
    found["sync.idle.wall@100000"] = 1.5
    assert row(found, "first run after the initial sync at 100,000: ≤ 1 s").verdict == (
        targets.MISSED
    )


def test_memory_bounds_are_150_mb_initial_and_80_mb_incremental() -> None:
    found = full_run()
    found["sync.initial.rss_mb@100000"] = 404
    found["sync.incremental.rss_mb@100000"] = 80
    assert row(found, "peak RSS at 100,000: initial").verdict == targets.MISSED
    assert row(found, "peak RSS at 100,000: initial").figure == "404.00 MB"
    assert row(found, "peak RSS at 100,000: incremental").verdict == targets.MET


def test_a_quick_run_leaves_the_100000_targets_not_measured_with_what_it_has() -> None:
    found = {"sync.idle.wall@1000": 0.4, "sync.incremental.calls@1000": 108}
    result = row(found, "first run after the initial sync at 100,000: ≤ 1 s")
    assert (result.verdict, result.figure) == (targets.NOT_MEASURED, "at 1,000: 0.40 s")
    calls = row(found, "incremental 100 changes: calls")
    assert calls.verdict == targets.MET
    assert calls.figure == "108 at 1,000 (100,000 not measured)"


def test_incremental_time_at_100000_is_bounded_by_1_2_times_at_1000() -> None:
    found = full_run()
    found["sync.incremental.wall@100000"] = 0.73
    assert row(found, "incremental 100 changes: time").verdict == targets.MISSED


def test_incremental_calls_are_bounded_by_changes_pages_and_constant_at_every_n() -> None:
    found = full_run()
    found["sync.incremental.calls@10000"] = 111  # bound 100 + 2 + 8
    assert row(found, "incremental 100 changes: calls").verdict == targets.MISSED


def test_the_engine_needs_40000_pairs_per_cpu_second() -> None:
    found = full_run()
    found["engine.pairs_per_cpu_s"] = 19_925
    assert row(found, "engine alone").verdict == targets.MISSED
    assert row(found, "engine alone").figure == "19,925 pairs/CPU-s"


def test_the_default_interval_must_be_a_minute() -> None:
    assert row(full_run(), "default polling", interval=300).verdict == targets.MISSED
    assert row(full_run(), "default polling", interval=60).verdict == targets.MET


def test_the_dispatcher_needs_the_same_queries_up_to_10000_connections() -> None:
    found = full_run()
    found["dispatcher.queries_per_tick@10000"] = 3
    assert row(found, "dispatcher").verdict == targets.MISSED
    del found["dispatcher.queries_per_tick@10000"]
    assert row(found, "dispatcher").verdict == targets.NOT_MEASURED


def test_polling_latency_is_judged_only_from_20_edits_at_a_minute() -> None:
    found = full_run()
    found["polling.median_s"] = 70
    assert row(found, "edit -> other app by polling: median").verdict == targets.MISSED
    found["polling.edits"] = 4
    assert row(found, "edit -> other app by polling: median").verdict == targets.NOT_MEASURED
    for name in ("polling.median_s", "polling.worst_s", "polling.edits", "polling.interval_s"):
        del found[name]
    assert row(found, "edit -> other app by polling: worst").verdict == targets.NOT_MEASURED


def test_the_peer_rows_compare_and_judge_tandems_flatness() -> None:
    found = full_run()
    assert row(found, "peer side by side: initial records/s at 100,000").figure == (
        "Tandem 1,100/s, 140 MB; vdirsyncer 700/s, 153 MB"
    )
    flat = row(found, "peer side by side: 100 changes")
    assert flat.verdict == targets.MET
    assert flat.figure == "Tandem x1.10 (0.66 s vs 0.60 s), vdirsyncer x30.00 (60.00 s vs 2.00 s)"
    del found["peer.incremental.wall@100000"]
    assert row(found, "peer side by side: 100 changes").verdict == targets.NOT_MEASURED


def test_the_table_and_summary_count_the_verdicts() -> None:
    rows = targets.evaluate({}, default_interval=300)
    assert targets.summary(rows) == "targets: 0 met, 1 missed, 16 not measured"
    assert targets.table(rows).rows[0][2] == targets.NOT_MEASURED


def test_figures_of_table_only_benchmarks_are_read_by_column_heading() -> None:
    figures.clear()
    engine = Table("Engine CPU", ["pairs", "mappings", "pairs / cpu s"])
    engine.add(20_000, 5, 19_925.0)
    dispatcher = Table("Dispatcher", ["active connections", "claimed", "queries"])
    dispatcher.add(100, 100, 2)
    dispatcher.add(10_000, 500, 2)
    figures.harvest("engine_cpu", [engine])
    figures.harvest("dispatcher", [dispatcher])
    assert figures.get("engine.pairs_per_cpu_s") == 19_925.0
    assert figures.sizes("dispatcher.queries_per_tick") == [100, 10_000]


def test_the_engine_is_judged_from_empty_caches_and_shows_the_warm_figure_beside() -> None:
    figures.clear()
    engine = Table("Engine CPU", ["caches", "pairs", "pairs / cpu s"])
    engine.add("phones seen before", 20_000, 48_000.0)
    engine.add("empty (fresh process)", 20_000, 21_000.0)
    figures.harvest("engine_cpu", [engine])
    found = {
        "engine.pairs_per_cpu_s": figures.get("engine.pairs_per_cpu_s"),
        "engine.pairs_per_cpu_s_warm": figures.get("engine.pairs_per_cpu_s_warm"),
    }
    judged = row(found, "engine alone")
    assert judged.verdict == targets.MISSED
    assert judged.figure == (
        "21,000 pairs/CPU-s from empty caches (48,000 with phones and names seen before)"
    )
    figures.clear()
    assert figures.snapshot() == {}


def test_a_quick_run_shows_the_peer_beside_tandem_at_its_size() -> None:
    found = {
        "sync.initial.records_per_s@1000": 766, "sync.initial.rss_mb@1000": 91,
        "peer.initial.records_per_s@1000": 836, "peer.initial.rss_mb@1000": 48,
    }  # fmt: skip
    result = row(found, "peer side by side: initial records/s at 10,000")
    assert result.verdict == targets.NOT_MEASURED
    assert result.figure == "at 1,000: Tandem 766/s, 91 MB; vdirsyncer 836/s, 48 MB"
