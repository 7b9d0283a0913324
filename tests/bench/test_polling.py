from bench import figures, polling


def test_the_edits_are_spread_evenly_over_one_polling_cycle() -> None:
    times = polling.edit_times(20)
    assert polling.CYCLE_S == polling.INTERVAL_S + polling.DISPATCHER_TICK_S == 75
    assert times[:3] == [0.0, 3.75, 7.5]
    assert len(times) == 20
    assert times[-1] == 71.25


def test_a_quick_run_measures_nothing_and_says_so() -> None:
    figures.clear()
    tables, summary = polling.run(True)
    assert summary == "polling not measured (--quick)"
    assert "not measured" in tables[0].rows[0][0]
    assert figures.snapshot() == {}
