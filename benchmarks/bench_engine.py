"""Engine benchmarks: tiny-task round trip and pipelined throughput against the alternatives.

Every contender runs on this machine in the same run, with one worker process for the round trip
and two for throughput. Round-trip samples are taken in interleaved rounds (each contender does
a short burst in turn), so that a noisy neighbour on the machine hits every contender alike.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import select
import socket
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

from benchmarks import _workloads as w
from benchmarks._table import Row, median, percentile
from qtcompute import Pool

ROUNDS = 12
# The ``src`` folder of another version of qtcompute (a checkout of main before a change): when
# set, both versions are timed in child processes, round by round, and compared in extra rows.
BASELINE_ENV = "QTCOMPUTE_BENCH_BASELINE"
MAP_ROUNDS = 3
POOL_EXECUTOR_MAP = "ProcessPoolExecutor.map(chunksize=1000)"
PER_ROUND = 250
MAP_ITEMS = 100_000
# Against the baseline, map rounds are cheap (one map each) and single maps swing by 25% on
# this VM: more rounds, so that the median of each side means something.
BASELINE_MAP_ROUNDS = 20
SPAWN = multiprocessing.get_context("spawn")


class _Contender:
    name: str

    def round_trip(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _Pool(_Contender):
    name = "qtcompute.Pool"

    def __init__(self) -> None:
        self.pool = Pool(1)
        self.pool.ping(timeout=60)

    def round_trip(self) -> None:
        assert self.pool.submit(w.add, 1, 2).result() == 3

    def close(self) -> None:
        self.pool.shutdown()


class _QueuePair(_Contender):
    name = "seed: Queue pair"

    def __init__(self) -> None:
        self.iq, self.oq = SPAWN.Queue(), SPAWN.Queue()
        self.proc = SPAWN.Process(target=w.seed_worker, args=(self.iq, self.oq), daemon=True)
        self.proc.start()

    def round_trip(self) -> None:
        self.iq.put((1, 2))
        assert self.oq.get() == 3

    def close(self) -> None:
        self.iq.put("EXIT")
        self.proc.join()
        for q in (self.iq, self.oq):
            q.close()
            q.join_thread()


class _Socket(_Contender):
    name = "floor: raw socketpair"
    header = struct.Struct("<I")

    def __init__(self) -> None:
        self.sock, child = socket.socketpair()
        self.proc = SPAWN.Process(target=w.socket_worker, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def round_trip(self) -> None:
        data = pickle.dumps((1, 2), protocol=5)
        self.sock.sendall(self.header.pack(len(data)) + data)
        (size,) = self.header.unpack(w._recv_exact(self.sock, 4))
        assert pickle.loads(w._recv_exact(self.sock, size)) == 3

    def close(self) -> None:
        self.sock.close()
        self.proc.join()


class _Executor(_Contender):
    def __init__(self, name: str, executor, submit: Callable) -> None:
        self.name = name
        self.executor = executor
        self.submit = submit
        self.round_trip()

    def round_trip(self) -> None:
        assert self.submit(self.executor).result() == 3

    def close(self) -> None:
        self.executor.shutdown(wait=True)


def _contenders() -> list[_Contender]:
    from concurrent.futures import ProcessPoolExecutor

    found: list[_Contender] = [_Socket(), _Pool(), _QueuePair()]
    found.append(
        _Executor(
            "ProcessPoolExecutor",
            ProcessPoolExecutor(1, mp_context=SPAWN),
            lambda ex: ex.submit(w.add, 1, 2),
        )
    )
    try:
        import loky

        found.append(
            _Executor("loky", loky.ProcessPoolExecutor(1), lambda ex: ex.submit(w.add, 1, 2))
        )
    except ImportError:
        pass
    try:
        import pebble

        pool = pebble.ProcessPool(max_workers=1, context=SPAWN)
        found.append(
            _Executor("pebble", _PebbleAdapter(pool), lambda ex: ex.schedule(w.add, (1, 2)))
        )
    except ImportError:
        pass
    return found


class _PebbleAdapter:
    def __init__(self, pool) -> None:
        self.pool = pool

    def schedule(self, fn, args):
        return self.pool.schedule(fn, args=args)

    def shutdown(self, wait: bool = True) -> None:
        self.pool.close()
        self.pool.join()


def round_trips() -> dict[str, list[float]]:
    contenders = _contenders()
    samples: dict[str, list[float]] = {c.name: [] for c in contenders}
    try:
        for contender in contenders:  # warm up
            for _ in range(100):
                contender.round_trip()
        for _ in range(ROUNDS):
            for contender in contenders:
                out = samples[contender.name]
                clock = time.perf_counter
                for _ in range(PER_ROUND):
                    start = clock()
                    contender.round_trip()
                    out.append(clock() - start)
    finally:
        for contender in contenders:
            contender.close()
    return samples


def throughput() -> dict[str, float]:
    """Items per second of a map of tiny items with two workers: Pool (automatic chunking) and
    ProcessPoolExecutor (chunksize=1000) in interleaved rounds (the median of each), then the
    seed's Queue pair once (it takes a second per map)."""
    from concurrent.futures import ProcessPoolExecutor

    xs = list(range(MAP_ITEMS))
    runs: dict[str, list[float]] = {"qtcompute.Pool.map": [], POOL_EXECUTOR_MAP: []}
    with Pool(2) as pool, ProcessPoolExecutor(2, mp_context=SPAWN) as executor:
        pool.ping(timeout=60)
        list(executor.map(w.add, [1, 2], [1, 2]))
        for _ in range(MAP_ROUNDS):
            start = time.perf_counter()
            result = list(pool.map(w.add, xs, xs))
            runs["qtcompute.Pool.map"].append(MAP_ITEMS / (time.perf_counter() - start))
            assert result[-1] == 2 * xs[-1]
            start = time.perf_counter()
            list(executor.map(w.add, xs, xs, chunksize=1000))
            runs[POOL_EXECUTOR_MAP].append(MAP_ITEMS / (time.perf_counter() - start))
    rates = {name: median(values) for name, values in runs.items()}

    iq, oq = SPAWN.Queue(), SPAWN.Queue()
    procs = [SPAWN.Process(target=w.seed_worker, args=(iq, oq), daemon=True) for _ in range(2)]
    for proc in procs:
        proc.start()
    iq.put((0, 0))
    oq.get()  # both queues' feeder threads and at least one worker are up
    start = time.perf_counter()
    for x in xs:
        iq.put((x, x))
    total = sum(oq.get() for _ in xs)
    rates["seed: Queue pair"] = MAP_ITEMS / (time.perf_counter() - start)
    assert total == sum(2 * x for x in xs)
    for _ in procs:
        iq.put("EXIT")
    for proc in procs:
        proc.join()
    return rates


def parent_death_seconds() -> float:
    """SIGKILL a process whose two workers are busy; time until both workers are gone."""
    script = textwrap.dedent(
        """
        import json, sys
        from qtcompute import Pool
        from benchmarks import _workloads as w
        pool = Pool(2)
        pool.ping(timeout=60)
        futures = [pool.submit(w.forever) for _ in range(2)]
        print(json.dumps(pool.pids()), flush=True)
        sys.stdin.read()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    pids = json.loads(proc.stdout.readline())
    fds = [os.pidfd_open(pid) for pid in pids]
    start = time.perf_counter()
    proc.kill()
    pending = list(fds)
    while pending:
        ready, _, _ = select.select(pending, [], [], 10)
        if not ready:
            raise RuntimeError("workers outlived their parent")
        pending = [fd for fd in pending if fd not in ready]
    elapsed = time.perf_counter() - start
    for fd in fds:
        os.close(fd)
    proc.wait()
    proc.stdin.close()
    proc.stdout.close()
    return elapsed


class _CodeVersion:
    """A child process timing the Pool of one version of the code (``pool_bench_server``)."""

    def __init__(self, src: str) -> None:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, root]))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from benchmarks._workloads import pool_bench_server as s; s()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=root,
            text=True,
        )

    def ask(self, command: str) -> object:
        self.proc.stdin.write(command + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return json.loads(self.proc.stdout.readline())  # type: ignore[union-attr]

    def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(timeout=60)
        self.proc.stdout.close()  # type: ignore[union-attr]


def against_baseline(baseline_src: str) -> list[Row]:
    """Today's code and the baseline's, each in a child process, in interleaved rounds."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    today, before = _CodeVersion(os.path.join(here, "src")), _CodeVersion(baseline_src)
    try:
        rt: dict[str, list[float]] = {"today": [], "before": []}
        rates: dict[str, list[float]] = {"today": [], "before": []}
        # Each round alternates which version goes first: neither always runs on a machine the
        # other has just warmed (or loaded).
        order = [[("today", today), ("before", before)], [("before", before), ("today", today)]]
        for i in range(ROUNDS):
            for key, version in order[i % 2]:
                rt[key] += [s * 1e6 for s in version.ask(f"rt {PER_ROUND}")]  # type: ignore[union-attr]
        for i in range(BASELINE_MAP_ROUNDS):
            for key, version in order[i % 2]:
                rates[key].append(version.ask(f"map {MAP_ITEMS}"))  # type: ignore[arg-type]
    finally:
        today.close()
        before.close()
    peer = "Pool before the change"
    note = f"both in child processes, interleaved; baseline {baseline_src}"
    return [
        Row(
            "engine",
            "round trip median: Pool vs itself before",
            median(rt["today"]),
            "us",
            peer,
            median(rt["before"]),
            None,
            note,
        ),
        Row(
            "engine",
            "round trip p99: Pool vs itself before",
            percentile(rt["today"], 99),
            "us",
            peer,
            percentile(rt["before"], 99),
            None,
            note,
        ),
        Row(
            "engine",
            f"map of {MAP_ITEMS:,} tiny items: Pool vs itself before",
            median(rates["today"]),
            "items/s",
            peer,
            median(rates["before"]),
            None,
            f"median of {BASELINE_MAP_ROUNDS} maps each, 2 workers, alternating which goes first",
        ),
    ]


def run() -> list[Row]:
    samples = round_trips()
    us = {name: [s * 1e6 for s in values] for name, values in samples.items()}
    floor = median(us["floor: raw socketpair"])
    queue = median(us["seed: Queue pair"])
    pool_median = median(us["qtcompute.Pool"])
    rows = [
        Row(
            "engine",
            "round trip median: Pool vs raw socketpair",
            pool_median,
            "us",
            "raw socketpair",
            floor,
            ("<=", 1.5),
            f"{ROUNDS}x{PER_ROUND} interleaved samples, 1 worker, (x, y) -> x + y",
        ),
        Row(
            "engine",
            "round trip median: Pool vs seed Queue pair",
            pool_median,
            "us",
            "seed Queue pair",
            queue,
            ("<=", 1 / 3),
        ),
        Row(
            "engine",
            "round trip p99: Pool vs seed Queue pair",
            percentile(us["qtcompute.Pool"], 99),
            "us",
            "seed Queue pair",
            percentile(us["seed: Queue pair"], 99),
        ),
    ]
    for name in us:
        if name in ("qtcompute.Pool", "floor: raw socketpair", "seed: Queue pair"):
            continue
        rows.append(
            Row(
                "engine",
                f"round trip median: Pool vs {name}",
                pool_median,
                "us",
                name,
                median(us[name]),
                None,
                f"{name} p99 {percentile(us[name], 99):.0f} us",
            )
        )
    rates = throughput()
    pool_rate = rates.pop("qtcompute.Pool.map")
    for name, rate in rates.items():
        target = (">=", 5.0) if name == "seed: Queue pair" else (">=", 1.0)
        note = "2 workers, pipelined"
        if name == POOL_EXECUTOR_MAP:
            note = f"2 workers; Pool chunks automatically; median of {MAP_ROUNDS} interleaved maps"
        rows.append(
            Row(
                "engine",
                f"map of {MAP_ITEMS:,} tiny items: Pool vs {name}",
                pool_rate,
                "items/s",
                name,
                rate,
                target,
                note,
            )
        )
    baseline = os.environ.get(BASELINE_ENV)
    if baseline:
        rows += against_baseline(baseline)
    if sys.platform.startswith("linux"):
        death = parent_death_seconds()
        rows.append(
            Row(
                "engine",
                "workers gone after parent SIGKILL",
                death,
                "s",
                "requirement",
                1.0,
                ("<=", 1.0),
                "2 workers busy in a Python loop",
            )
        )
    return rows
