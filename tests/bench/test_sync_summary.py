from bench.sync import initial_summary


def test_the_summary_takes_the_largest_size_with_a_floor() -> None:
    line = initial_summary({1_000: (2.0, 1.06), 10_000: (3.5, 1.01)}, None)
    assert line == "initial@10,000 calls x1.01 floor, wall x3.50 floor"


def test_sizes_above_the_floor_only_say_so_instead_of_failing() -> None:
    assert initial_summary({}, None) == "initial: no floor measured (sizes above 10,000)"
