from bench.sync import initial_summary, interleaved, median_pair


def test_the_summary_takes_the_largest_size_with_a_floor() -> None:
    line = initial_summary({1_000: (2.0, 1.06), 10_000: (3.5, 1.01)}, None)
    assert line == "initial@10,000 calls x1.01 floor, wall x3.50 floor"


def test_sizes_above_the_floor_only_say_so_instead_of_failing() -> None:
    assert initial_summary({}, None) == "initial: no floor measured (sizes above 10,000)"


def test_the_pair_shown_is_the_one_whose_wall_ratio_is_the_median() -> None:
    # Ratios 1.10, 1.39 and 1.25: the median is the third pair's, though the median Tandem wall
    # is the second's and the median floor wall the first's.
    assert median_pair([(4.4, 4.0), (5.0, 3.6), (6.0, 4.8)]) == 2


def test_one_pair_is_its_own_median() -> None:
    assert median_pair([(5.0, 4.0)]) == 0


def test_each_incremental_round_runs_at_every_size_before_the_next_round() -> None:
    assert interleaved([1_000, 10_000, 100_000], 2) == [
        (0, 1_000), (0, 10_000), (0, 100_000), (1, 1_000), (1, 10_000), (1, 100_000),
    ]  # fmt: skip
