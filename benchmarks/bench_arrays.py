"""Large NumPy arrays: shared memory against the seed's Queue pair and against memcpy.

Each figure is the median of a few repetitions in this run, after a few warm-up repetitions of
the same operation (on a virtual machine, the first use of never-touched guest memory costs a
host page fault per page, so the first runs of anything that allocates 128 MB are slow; every
contender is warmed up alike). "memcpy" is NumPy copying the array into newly allocated memory
(what any transfer must at least do: the receiver's pages are new), with a copy into memory
already touched given in the note for reference.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time

from benchmarks import _workloads as w
from benchmarks._table import Row
from qtcompute import Pool
from qtcompute.engine import _shm

MB = 1 << 20
SIZE = 128 * MB
REPEAT = 5
WARM_UP = 3


def _median_time(fn) -> float:
    for _ in range(WARM_UP):
        fn()
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run() -> list[Row]:
    import numpy as np

    array = np.arange(SIZE // 8, dtype=np.float64)
    expected_first = float(array[1] * 2)

    with Pool(1) as pool:
        pool.ping(timeout=60)

        def pool_round_trip() -> None:
            assert float(pool.submit(w.double, array).result()[1]) == expected_first

        def pool_send() -> None:
            assert pool.submit(w.nbytes, array).result() == SIZE

        pool_round_trip()  # warm up the worker's imports (NumPy)
        pool_rt = _median_time(pool_round_trip)
        pool_one_way = _median_time(pool_send)
        saved, _shm.THRESHOLD = _shm.THRESHOLD, 1 << 62  # the same pool, shared memory off
        try:
            pipe_one_way = _median_time(pool_send)
        finally:
            _shm.THRESHOLD = saved

    ctx = multiprocessing.get_context("spawn")
    iq, oq = ctx.Queue(), ctx.Queue()
    proc = ctx.Process(target=w.seed_array_worker, args=(iq, oq), daemon=True)
    proc.start()

    def queue_round_trip() -> None:
        iq.put(array)
        assert float(oq.get()[1]) == expected_first

    queue_round_trip()
    queue_rt = _median_time(queue_round_trip)
    iq.put("EXIT")
    proc.join()
    for q in (iq, oq):
        q.close()
        q.join_thread()

    fresh_copy = _median_time(lambda: array.copy())
    compute_alone = _median_time(lambda: array * 2)  # what the worker does, in this process
    target = np.empty_like(array)
    np.copyto(target, array)
    warm_copy = _median_time(lambda: np.copyto(target, array))

    def gbps(seconds: float) -> float:
        return SIZE / seconds / 1e9

    return [
        Row(
            "arrays",
            "128 MB round trip (doubled): Pool vs seed Queue pair",
            pool_rt * 1e3,
            "ms",
            "seed Queue pair",
            queue_rt * 1e3,
            ("<=", 1 / 20),
            f"float64, worker returns array * 2; `array * 2` alone, in one process, takes "
            f"{compute_alone * 1e3:.0f} ms here (20x the Queue pair leaves "
            f"{queue_rt * 1e3 / 20:.0f} ms for everything)",
        ),
        Row(
            "arrays",
            "128 MB one-way send: Pool vs memcpy to new memory",
            gbps(pool_one_way),
            "GB/s",
            "memcpy (new memory)",
            gbps(fresh_copy),
            (">=", 0.5),
            f"memcpy into touched memory: {gbps(warm_copy):.1f} GB/s; through the pipe "
            f"(shared memory off): {gbps(pipe_one_way):.2f} GB/s",
        ),
    ]
