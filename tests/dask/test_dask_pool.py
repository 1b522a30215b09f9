"""What is particular to ``DaskPool``: connecting, stopping on a worker, timeouts, workers and
schedulers that die. Everything runs on real clusters: the session's ``LocalCluster`` (two
worker processes under nannies) or a scheduler and a worker in processes of their own."""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import subprocess
import sys
import threading
import time

import dask_tasks as tasks
import distributed
import numpy as np
import pytest
from test_contract import start

from qtcompute.dask import DaskFuture, DaskPool, SchedulerLostError, SchedulerUnreachableError
from qtcompute.errors import TaskTimeoutError, WorkerCrashedError


def test_connects_by_address_client_or_cluster(cluster):
    with DaskPool(cluster.scheduler_address) as by_address:
        assert by_address.submit(tasks.add, 1, 2).result(timeout=60) == 3
        assert by_address.address == cluster.scheduler_address
    assert by_address.client.status == "closed", "a client the pool made is closed with it"
    client = distributed.Client(cluster, set_as_default=False)
    try:
        with DaskPool(client) as on_client:
            assert on_client.submit(tasks.add, 2, 2).result(timeout=60) == 4
        assert client.status == "running", "a client given to the pool stays the caller's"
    finally:
        client.close()
    with pytest.raises(TypeError, match="scheduler address"):
        DaskPool(8786)  # type: ignore[arg-type]


def test_an_unreachable_address_fails_quickly_and_says_what_to_do():
    with socket_on_free_port() as port:
        address = f"tcp://127.0.0.1:{port}"
    began = time.monotonic()
    with pytest.raises(SchedulerUnreachableError) as info:
        DaskPool(address, connect_timeout=2)
    assert time.monotonic() - began < 30
    message = str(info.value)
    assert address in message and "dask scheduler" in message and "TLS" in message
    assert isinstance(info.value, ConnectionError)


def socket_on_free_port():
    import contextlib
    import socket

    @contextlib.contextmanager
    def free_port():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            yield sock.getsockname()[1]  # closed on exit: nothing listens there afterwards

    return free_port()


def test_futures_say_where_they_run(dask_pool):
    future = start(dask_pool, tasks.started_then_loop_forever)
    assert isinstance(future, DaskFuture)
    assert future.pid in dask_pool.pids()
    assert future.worker in dask_pool.client.nthreads()
    assert future.stop()


def test_stop_ends_cancelled_at_once_and_frees_the_workers_thread(dask_pool):
    running = [start(dask_pool, tasks.started_then_loop_forever) for _ in range(2)]
    for future in running:
        assert future.stop()
        assert future.cancelled()
        with pytest.raises(cf.CancelledError):
            future.result(timeout=0)
    # Both workers have one thread each: this runs only if the stopped loops really ended.
    assert dask_pool.submit(tasks.add, 20, 22).result(timeout=60) == 42
    assert running[0].stop(), "as cancel(): True again for a cancelled future"
    done = dask_pool.submit(tasks.square, 3)
    assert done.result(timeout=60) == 9
    assert not done.stop(), "a finished task cannot be stopped"


def test_timeout_fails_the_task_and_frees_its_thread(dask_pool):
    futures = [start(dask_pool, tasks.started_then_loop_forever, timeout=0.5) for _ in range(2)]
    for future in futures:
        with pytest.raises(TaskTimeoutError, match=r"timeout of 0\.5 s") as info:
            future.result(timeout=60)
        assert info.value.timeout == 0.5 and isinstance(info.value, TimeoutError)
    assert dask_pool.submit(tasks.add, 1, 1).result(timeout=60) == 2


def test_the_timeout_counts_from_the_start_on_a_worker(cluster, make_gate):
    pool = DaskPool(cluster, task_timeout=3)
    try:
        gates = [make_gate(), make_gate()]
        blockers = [start(pool, tasks.started_then_wait_for_gate, g.path) for g in gates]
        queued = pool.submit(tasks.sleep_then, 0.1, "queued")
        done, _ = cf.wait([queued], timeout=4)  # longer than its timeout, waiting for a thread
        assert not done
        for gate in gates:
            gate.release()
        assert queued.result(timeout=60) == "queued"
        assert [b.result(timeout=60) for b in blockers] == ["released", "released"]
    finally:
        pool.shutdown(stop_running=True)


def test_progress_from_a_thread_the_task_started(dask_pool):
    values: list[str] = []
    future = dask_pool.schedule(tasks.report_from_a_thread_of_the_task, on_progress=values.append)
    assert future.result(timeout=60) == "joined"
    assert values == ["from a thread"]


def test_numpy_arrays_both_ways(dask_pool):
    array = np.arange(2_000_000, dtype=np.float64)  # 16 MB: out-of-band frames, not a copy
    assert dask_pool.submit(tasks.array_sum, array).result(timeout=60) == float(array.sum())
    doubled = dask_pool.submit(tasks.double, array).result(timeout=60)
    assert doubled.dtype == array.dtype and np.array_equal(doubled, array * 2)


def test_a_worker_killed_mid_task_is_retried_and_the_task_ends_once(dask_pool, tmp_path):
    pids: list[int] = []
    ended: list[cf.Future] = []
    future = dask_pool.schedule(
        tasks.report_pid_and_loop, (str(tmp_path / "ran"),), on_progress=pids.append
    )
    future.add_done_callback(ended.append)
    _wait_for(lambda: pids, "the task to report its worker's pid")
    os.kill(pids[0], signal.SIGKILL)
    outcome, pid = future.result(timeout=120)
    assert outcome == "retried" and pid != pids[0]
    assert ended == [future]


def test_a_task_that_outlives_its_workers_fails_with_worker_crashed(dask_pool):
    pids: list[int] = []

    def kill(pid: int) -> None:  # a progress callback: runs in the client's thread
        pids.append(pid)
        os.kill(pid, signal.SIGKILL)

    ended: list[cf.Future] = []
    future = dask_pool.schedule(tasks.report_pid_and_loop_forever, on_progress=kill)
    future.add_done_callback(ended.append)
    with pytest.raises(WorkerCrashedError, match="allowed-failures") as info:
        future.result(timeout=180)
    assert len(pids) == 2, "one retry (allowed_failures=1), then KilledWorker"
    assert "KilledWorker" in str(info.value) or future.key in str(info.value)
    assert ended == [future]
    assert dask_pool.submit(tasks.add, 1, 2).result(timeout=120) == 3, "the pool goes on"


def test_scheduler_killed_while_tasks_are_pending(process_cluster):
    client = process_cluster.client()
    pool = DaskPool(client)
    try:
        running = start(pool, tasks.started_then_loop_forever)
        queued = pool.submit(tasks.sleep_then, 0.1, "never")
        process_cluster.kill_scheduler()
        for future in (running, queued):
            with pytest.raises(SchedulerLostError) as info:
                future.result(timeout=30)
            assert pool.address in str(info.value) and "dask scheduler" in str(info.value)
    finally:
        pool.shutdown(wait=False)
        client.close(timeout=5)


def test_scheduler_that_stops_answering_fails_pending_tasks_in_bounded_time(process_cluster):
    client = process_cluster.client()
    pool = DaskPool(client, scheduler_timeout=2, heartbeat=0.5)
    try:
        running = start(pool, tasks.started_then_loop_forever)
        process_cluster.freeze_scheduler()
        began = time.monotonic()
        with pytest.raises(SchedulerLostError, match="did not answer"):
            running.result(timeout=60)
        assert time.monotonic() - began < 30
    finally:
        pool.shutdown(wait=False)
        process_cluster.kill_scheduler()
        client.close(timeout=5)


def test_local_owns_its_cluster():
    pool = DaskPool.local(1)
    cluster_address = pool.address
    assert pool.submit(tasks.square, 7).result(timeout=60) == 49
    pool.shutdown()
    with pytest.raises(SchedulerUnreachableError):
        DaskPool(cluster_address, connect_timeout=1)


def test_missing_distributed_gives_the_install_hint():
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "try:\n"
        "    from qtcompute.dask import DaskPool\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "qtcompute[dask]"' in out.stdout


def test_public_api():
    import qtcompute.dask

    assert qtcompute.dask.__all__ == sorted(qtcompute.dask.__all__)
    for name in qtcompute.dask.__all__:
        assert getattr(qtcompute.dask, name).__module__.startswith("qtcompute.dask")


def _wait_for(condition, what: str, timeout: float = 60) -> None:
    event = threading.Event()
    deadline = time.monotonic() + timeout
    while not condition():  # set from the client's thread: a list filled by a callback
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        event.wait(0.01)


def test_a_tls_cluster_takes_clients_with_a_certificate_only():
    from distributed.security import Security

    pytest.importorskip("cryptography")
    security = Security.temporary()  # a throw-away CA; every member holds a certificate of it
    pool = DaskPool.local(1, cluster_security=security, cluster_protocol="tls://")
    try:
        assert pool.address.startswith("tls://")
        assert pool.submit(tasks.add, 2, 3).result(timeout=60) == 5
        with pytest.raises(SchedulerUnreachableError, match="TLS"):
            DaskPool(pool.address, connect_timeout=2)  # no certificate at all
        with pytest.raises(SchedulerUnreachableError):
            DaskPool(pool.address, security=Security.temporary(), connect_timeout=2)  # other CA
        with DaskPool(pool.address, security=security) as authenticated:
            assert authenticated.submit(tasks.square, 9).result(timeout=60) == 81
    finally:
        pool.shutdown()


def _io_loop_threads() -> int:
    return sum("IO loop" in thread.name for thread in threading.enumerate())


def test_a_refused_connection_leaves_no_client_behind_to_stall_a_later_one():
    """Each refusal below used to leave a half-built Client and its IO-loop thread; the garbage
    collector then closed them in whatever thread it ran, blocking there for 4 s, and a later
    Client failed to start its loop (CI: "assert loop is not None")."""
    import gc

    from distributed.security import Security

    pytest.importorskip("cryptography")
    security = Security.temporary()
    pool = DaskPool.local(1, cluster_security=security, cluster_protocol="tls://")
    try:
        with socket_on_free_port() as port:
            nobody = f"tcp://127.0.0.1:{port}"
        threads_before = _io_loop_threads()
        for _ in range(2):
            with pytest.raises(SchedulerUnreachableError):
                DaskPool(pool.address, connect_timeout=2)  # no certificate
            with pytest.raises(SchedulerUnreachableError):
                DaskPool(pool.address, security=Security.temporary(), connect_timeout=2)
            with pytest.raises(SchedulerUnreachableError):
                DaskPool(nobody, connect_timeout=1)
        assert _io_loop_threads() == threads_before
        gc.collect()  # nothing left to finalise, so nothing to block in
        with DaskPool(pool.address, security=security) as authenticated:
            assert authenticated.submit(tasks.square, 7).result(timeout=60) == 49
    finally:
        pool.shutdown()
