"""The "qtcompute" joblib back end, driven through joblib's own API with real worker processes.

The usage patterns are those of joblib's tests for back ends (``joblib/test/test_parallel.py``):
ordered results, generators, an error in one item, nested calls, n_jobs, batching.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

joblib = pytest.importorskip("joblib")

import joblib_tasks as tasks  # noqa: E402
from joblib import Parallel, delayed, parallel_backend, parallel_config  # noqa: E402

import qtcompute.joblib as qj  # noqa: E402
from qtcompute import Pool  # noqa: E402
from qtcompute.errors import WorkerCrashedError  # noqa: E402

WORKERS = 2


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    with Pool(WORKERS) as pool:
        yield pool


def test_importing_registers_the_backend() -> None:
    from joblib.parallel import BACKENDS

    assert BACKENDS[qj.BACKEND_NAME] is qj.QtComputeBackend


def test_results_come_in_order_from_the_pools_workers(pool: Pool) -> None:
    with parallel_config(backend="qtcompute", pool=pool):
        squares = Parallel(n_jobs=2)(delayed(tasks.square)(i) for i in range(1000))
        pids = Parallel(n_jobs=2, batch_size=1)(delayed(tasks.pid_of)(i) for i in range(20))
    assert squares == [i * i for i in range(1000)]
    assert set(pids) <= set(pool.pids())
    assert os.getpid() not in pids


def test_parallel_backend_the_older_name_works_too(pool: Pool) -> None:
    with parallel_backend("qtcompute", pool=pool):
        assert Parallel(n_jobs=2)(delayed(tasks.square)(i) for i in range(10)) == [
            i * i for i in range(10)
        ]


def test_backend_by_name_without_a_pool_uses_the_default_pool() -> None:
    pids = Parallel(n_jobs=2, backend="qtcompute", batch_size=1)(
        delayed(tasks.pid_of)(i) for i in range(10)
    )
    assert set(pids) <= set(qj.default_pool().pids())
    assert qj.default_pool() is qj.default_pool()


@pytest.mark.parametrize("return_as", ["generator", "generator_unordered"])
def test_return_as_generator(pool: Pool, return_as: str) -> None:
    with parallel_config(backend="qtcompute", pool=pool):
        results = Parallel(n_jobs=2, return_as=return_as)(
            delayed(tasks.square)(i) for i in range(200)
        )
        assert not isinstance(results, list)
        first = next(results)
        rest = list(results)
    if return_as == "generator":
        assert [first, *rest] == [i * i for i in range(200)]
    else:
        assert sorted([first, *rest]) == [i * i for i in range(200)]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="a POSIX FIFO holds the straggler")
@pytest.mark.timeout(60)
def test_a_straggler_does_not_hold_back_the_other_batches(pool: Pool, tmp_path) -> None:
    """One batch blocks until the caller has every other result: the others must still flow."""
    fifo = str(tmp_path / "release")
    os.mkfifo(fifo)
    calls = [delayed(tasks.wait_for_fifo)(fifo)] + [delayed(tasks.square)(i) for i in range(40)]
    with parallel_config(backend="qtcompute", pool=pool):
        results = Parallel(n_jobs=2, batch_size=1, return_as="generator_unordered")(calls)
        seen = [next(results) for _ in range(40)]  # everything but the straggler
        assert sorted(seen) == [i * i for i in range(40)]
        with open(fifo, "w", encoding="utf-8") as release:
            release.write("-1")
        assert list(results) == [-1]


def test_an_error_in_one_item_raises_with_the_workers_traceback(pool: Pool) -> None:
    with parallel_config(backend="qtcompute", pool=pool):
        with pytest.raises(ValueError, match="item 13 is bad") as caught:
            Parallel(n_jobs=2)(delayed(tasks.fail_on)(i, 13) for i in range(50))
        cause = caught.value.__cause__
        assert cause is not None
        assert "fail_on" in str(cause) and "joblib_tasks.py" in str(cause)
        # The pool is unharmed: the next call works.
        assert Parallel(n_jobs=2)(delayed(tasks.square)(i) for i in range(5)) == [0, 1, 4, 9, 16]


def test_an_error_cancels_the_batches_that_have_not_started(pool: Pool) -> None:
    with parallel_config(backend="qtcompute", pool=pool):
        with pytest.raises(ValueError, match="item 0 is bad"):
            Parallel(n_jobs=2, batch_size=1, pre_dispatch="all")(
                delayed(tasks.fail_on)(tasks.slow_unless_first(i), 0) for i in range(1)
            )
        with pytest.raises(ValueError, match="item 0 is bad"):
            Parallel(n_jobs=2, batch_size=1, pre_dispatch="all")(
                [delayed(tasks.fail_on)(0, 0)]
                + [delayed(tasks.slow_unless_first)(i) for i in range(1, 20)]
            )
    assert pool.stats().pending == 0, "queued batches of the failed call were cancelled"


def test_a_nested_parallel_call_runs_sequentially_inside_the_worker(pool: Pool) -> None:
    with parallel_config(backend="qtcompute", pool=pool):
        calls = (delayed(tasks.inner_parallel)(i) for i in range(4))
        results = Parallel(n_jobs=2, batch_size=1)(calls)
    for worker_pid, inner_pids, backend in results:
        assert worker_pid in pool.pids()
        assert inner_pids == [worker_pid], "the inner call ran in the worker itself"
        assert backend == "SequentialBackend"


def test_the_backend_asked_for_inside_a_task_runs_there(pool: Pool) -> None:
    with parallel_config(backend="qtcompute", pool=pool):
        results = Parallel(n_jobs=2, batch_size=1)(
            delayed(tasks.inner_qtcompute_parallel)(i) for i in range(2)
        )
    for worker_pid, inner_pids, children in results:
        assert inner_pids == [worker_pid]
        assert children == 0, "no pool was started inside the worker"


def test_n_jobs(pool: Pool) -> None:
    backend = qj.QtComputeBackend(pool=pool)
    assert backend.effective_n_jobs(-1) == WORKERS
    assert backend.effective_n_jobs(8) == WORKERS, "no more than the pool has"
    assert backend.effective_n_jobs(-2) == WORKERS - 1
    with pytest.raises(ValueError, match="n_jobs == 0"):
        backend.effective_n_jobs(0)
    with parallel_config(backend="qtcompute", pool=pool):
        # One job: joblib's sequential back end, in this process.
        assert Parallel(n_jobs=1)(delayed(tasks.pid_of)(i) for i in range(3)) == [os.getpid()] * 3
        # No n_jobs: the back end's default, the whole pool.
        parallel = Parallel()
        assert parallel(delayed(tasks.square)(i) for i in range(3)) == [0, 1, 4]
        assert parallel._effective_n_jobs() == WORKERS


class _CountingBackend(qj.QtComputeBackend):
    batches = 0

    def submit(self, func, callback=None):  # type: ignore[no-untyped-def]
        type(self).batches += 1
        return super().submit(func, callback)


def test_auto_batching_sends_many_tiny_items_in_few_batches(pool: Pool) -> None:
    joblib.register_parallel_backend("qtcompute-counting", _CountingBackend)
    with parallel_config(backend="qtcompute-counting", pool=pool):
        results = Parallel(n_jobs=2)(delayed(tasks.square)(i) for i in range(20_000))
    assert results == [i * i for i in range(20_000)]
    assert _CountingBackend.batches < 2_000, "joblib's auto-batching grew the batches"
    _CountingBackend.batches = 0
    with parallel_config(backend="qtcompute-counting", pool=pool):
        Parallel(n_jobs=2, batch_size=7)(delayed(tasks.square)(i) for i in range(70))
    # Batches of 7; joblib splits the last ones so that the workers finish together.
    assert 10 <= _CountingBackend.batches < 70


def test_functions_plain_pickle_cannot_send_go_by_cloudpickle(pool: Pool) -> None:
    offset = 5
    with parallel_config(backend="qtcompute", pool=pool):
        results = Parallel(n_jobs=2)(delayed(lambda x: x + offset)(i) for i in range(10))
    assert results == [i + 5 for i in range(10)]


def test_a_worker_crash_fails_the_call_and_the_pool_replaces_the_worker(pool: Pool) -> None:
    crashes = pool.stats().crashes
    with parallel_config(backend="qtcompute", pool=pool):
        with pytest.raises(WorkerCrashedError):
            Parallel(n_jobs=2, batch_size=1)(delayed(tasks.die_on)(i, 3) for i in range(6))
        assert Parallel(n_jobs=2)(delayed(tasks.square)(i) for i in range(100)) == [
            i * i for i in range(100)
        ]
    assert pool.stats().crashes == crashes + 1
    assert len(pool.pids()) == WORKERS


def test_progress_reported_by_tasks_reaches_on_progress(pool: Pool) -> None:
    import threading

    seen: list[int] = []
    lock = threading.Lock()

    def on_progress(value: int) -> None:
        with lock:
            seen.append(value)

    with parallel_config(backend="qtcompute", pool=pool, on_progress=on_progress):
        results = Parallel(n_jobs=2)(delayed(tasks.report_then_square)(i) for i in range(30))
    assert results == [i * i for i in range(30)]
    # Progress is "latest wins" per task; each batch reported at least its last value.
    assert seen and set(seen) <= set(range(30))


def test_a_wrong_pool_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match=r"pool must be a qtcompute\.Pool"):
        qj.QtComputeBackend(pool="not a pool")  # type: ignore[arg-type]


def test_inner_max_num_threads_is_refused_by_joblib(pool: Pool) -> None:
    with (
        pytest.raises(AssertionError, match="inner_max_num_threads"),
        parallel_config(backend="qtcompute", pool=pool, inner_max_num_threads=2),
    ):
        pass
