"""Spinning before sleeping: adaptive, bounded, optional, and invisible in results."""

from __future__ import annotations

import engine_tasks as tasks
import pytest

from qtcompute import Pool
from qtcompute.engine._spin import Spinner


def test_a_spinner_starts_asleep_and_spins_after_a_short_wait():
    checks = []
    spinner = Spinner(10.0, lambda: checks.append(1) or "ready")
    assert spinner.spin() is None  # no evidence yet that the other end is fast
    assert checks == []
    spinner.woke()  # that wait was far shorter than 10 s
    assert spinner.spin() == "ready"
    assert checks == [1]


def test_a_spin_that_runs_out_stops_spinning_until_a_wait_is_short_again():
    answers = iter([None, None, None])
    spinner = Spinner(1e-9, lambda: next(answers, None))
    spinner._enabled = True
    assert spinner.spin() is None  # ran out: the limit is a nanosecond
    assert spinner.spin() is None  # and does not spin again
    spinner.woke()  # a wait longer than the limit keeps it asleep
    assert spinner._enabled is False


def test_a_zero_limit_never_spins():
    spinner = Spinner(0.0, lambda: pytest.fail("a disabled spinner must not check"))
    for _ in range(3):
        assert spinner.spin() is None
        spinner.woke()


@pytest.mark.parametrize("spin", [0, 0.002])
def test_results_are_the_same_with_and_without_spinning(make_pool, spin):
    pool = make_pool(1, spin=spin)
    assert [pool.submit(tasks.add, i, i).result(timeout=60) for i in range(200)] == [
        2 * i for i in range(200)
    ]
    assert list(pool.map(tasks.square, range(500), chunksize=7)) == [i * i for i in range(500)]


@pytest.mark.parametrize("spin", [-1, 1.0, "fast", True])
def test_spin_must_be_a_small_number_of_seconds(spin):
    with pytest.raises(ValueError, match="spin must be"):
        Pool(1, spin=spin)


def test_by_default_only_a_pool_that_leaves_a_cpu_free_spins(make_pool):
    from qtcompute.engine._pool import _usable_cpus

    cpus = _usable_cpus()
    assert make_pool(cpus)._supervisor._spin == 0  # spinning workers would starve the parent
    if cpus > 1:
        assert make_pool(cpus - 1)._supervisor._spin > 0
