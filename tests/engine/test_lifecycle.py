"""Start-up, shutdown, parent death, leaks, output and initializers, with real processes."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import engine_tasks as tasks
import psutil
import pytest
from engine_support import wait_for_state, wait_gone

from qtcompute import Pool, WorkerState
from qtcompute.errors import TaskTimeoutError, WorkerCrashedError
from tests_support import new_shm, open_fds, shm_entries

HERE = Path(__file__).parent
LINUX = sys.platform.startswith("linux")


def run_script(source: str, *args: str, **kwargs) -> subprocess.Popen:
    """Start a Python script that can import the test tasks and qtcompute."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), *sys.path]))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(source), *args], env=env, **kwargs
    )


def test_spawn_is_the_default_start_method():
    with Pool(1) as pool:
        assert pool.start_method == "spawn"
        name, _argv = pool.submit(tasks.start_method_of_worker).result(timeout=60)
        cmdline = " ".join(psutil.Process(pool.pids()[0]).cmdline())
    assert name.startswith("qtcompute-worker-")
    assert "spawn_main" in cmdline and "--multiprocessing-fork" in cmdline


def test_ping_reaches_every_worker(make_pool):
    pool = make_pool(3)
    answers = pool.ping(timeout=60)
    assert sorted(answers) == sorted(pool.pids())
    assert len(answers) == 3 and all(seconds >= 0 for seconds in answers.values())


def test_events_describe_worker_life(make_pool):
    pool = make_pool(1)
    busy = wait_for_state(pool, WorkerState.BUSY)
    pool.ping(timeout=60)
    pool.submit(tasks.add, 1, 1).result(timeout=30)
    event = busy.wait()[0]
    assert event.stats.workers == 1 and event.stats.busy == 1


def test_initializer_runs_in_every_worker_and_again_after_a_crash(make_pool):
    pool = make_pool(1, initializer=tasks.init_state, initargs=("model",))
    value, pid = pool.submit(tasks.get_init_state).result(timeout=60)
    assert value == "model" and pid == pool.pids()[0]
    replaced = wait_for_state(pool, WorkerState.READY)
    os.kill(pid, signal.SIGKILL)
    replaced.wait()
    value2, pid2 = pool.submit(tasks.get_init_state).result(timeout=60)
    assert value2 == "model" and pid2 != pid


@pytest.mark.skipif(not LINUX, reason="/proc and /dev/shm")
def test_no_leaks_after_100_create_shutdown_cycles():
    # Warm up once: the first spawn starts multiprocessing's resource tracker for good.
    with Pool(1) as pool:
        pool.ping(timeout=60)
    fds, shm = open_fds(), shm_entries()
    me = psutil.Process()
    for cycle in range(100):
        # Every other pool spins, so each worker also has its page of frame counts.
        with Pool(2, spin=1e-4 if cycle % 2 else 0) as pool:
            assert pool.submit(tasks.add, 1, 2).result(timeout=60) == 3
    gc.collect()
    assert open_fds() == fds, "file descriptors leaked"
    assert new_shm(shm) == set(), "new /dev/shm entries"
    zombies = [c for c in me.children() if c.status() == psutil.STATUS_ZOMBIE]
    assert zombies == []
    helpers = ("resource_tracker", "forkserver")  # multiprocessing's own, one per session
    workers = [c for c in me.children() if not any(h in " ".join(c.cmdline()) for h in helpers)]
    assert workers == [], "worker processes outlived their pools"


@pytest.mark.skipif(not LINUX, reason="/dev/shm")
def test_no_leaks_after_crashes(make_pool):
    shm = shm_entries()
    pool = make_pool(2)
    for fn, args in [(tasks.segfault, ()), (tasks.exit_now, (3,)), (tasks.compute_forever, ())]:
        pool.ping(timeout=60)
        future = pool.schedule(fn, args, timeout=0.5)
        with pytest.raises((WorkerCrashedError, TaskTimeoutError)):
            future.result(timeout=60)
    pids = pool.pids()
    pool.shutdown()
    assert wait_gone(pids) == []
    assert new_shm(shm) == set()
    me = psutil.Process()
    assert [c for c in me.children() if c.status() == psutil.STATUS_ZOMBIE] == []


def test_garbage_collected_pool_stops_its_workers(start_method):
    pool = Pool(2, start_method=start_method)
    assert pool.submit(tasks.add, 1, 2).result(timeout=60) == 3
    core = pool._core
    del pool
    gc.collect()
    core.supervisor._thread.join(timeout=30)
    assert not core.alive, "the supervisor kept running after the pool was collected"
    assert core.pids() == []


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_interpreter_exit_without_shutdown_leaves_no_worker(start_method, tmp_path):
    out = tmp_path / "pids.json"
    script = run_script(
        f"""
        import json, sys
        from qtcompute import Pool
        import engine_tasks as tasks
        pool = Pool(2, start_method={start_method!r})
        futures = [pool.submit(tasks.square, i) for i in range(100)]
        pool.ping(timeout=60)
        json.dump(pool.pids(), open(sys.argv[1], "w"))
        # no shutdown(): the interpreter exits with the pool still running
        """,
        str(out),
    )
    assert script.wait(timeout=60) == 0
    assert wait_gone(json.loads(out.read_text())) == []


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
@pytest.mark.parametrize("task", ["compute_forever", "python_loop_forever"])
def test_parent_sigkill_takes_busy_workers_down(start_method, task):
    script = run_script(
        f"""
        import json, sys
        from qtcompute import Pool
        import engine_tasks as tasks
        pool = Pool(2, start_method={start_method!r})
        pool.ping(timeout=60)
        futures = [pool.submit(tasks.{task}) for _ in range(2)]
        print(json.dumps(pool.pids()), flush=True)  # the handshake: workers are busy now
        sys.stdin.read()  # wait here until killed
        """,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        pids = json.loads(script.stdout.readline())
        assert len(pids) == 2 and all(psutil.pid_exists(pid) for pid in pids)
        script.kill()
        script.wait(timeout=30)
        # The target is under a second (benchmarks measure it); the bound here only catches
        # workers that never exit.
        assert wait_gone(pids, timeout=10) == [], "orphaned workers survived their parent"
    finally:
        script.kill()
        script.wait()
        script.stdin.close()
        script.stdout.close()


@pytest.mark.skipif(not LINUX, reason="psutil.net_connections per process")
def test_no_listening_socket(make_pool, start_method):
    if start_method != "spawn":
        pytest.skip("forkserver's own server listens on a UNIX socket (stdlib)")
    pool = make_pool(2)
    pool.ping(timeout=60)
    for pid in [os.getpid(), *pool.pids()]:
        listening = [
            c for c in psutil.Process(pid).net_connections(kind="all") if c.status == "LISTEN"
        ]
        assert listening == [], f"process {pid} listens: {listening}"


def test_worker_output_reaches_the_parent(capfd, caplog):
    # spawn only: forkserver children inherit the descriptors of the server, which was started
    # by whichever test first used forkserver, not this test's captured ones.
    with Pool(1, start_method="spawn") as pool:
        assert pool.submit(tasks.print_and_log, "hello").result(timeout=60) == "hello"
    captured = capfd.readouterr()
    assert "stdout: hello" in captured.out
    assert "stderr: hello" in captured.err
    # logging arrives as a record, handled by the parent's loggers (test_worker_logging.py)
    assert [r.getMessage() for r in caplog.records if r.name == "user.worker"] == ["log: hello"]


@pytest.mark.skipif(sys.platform == "win32", reason="closing fds 1 and 2 like a windowed app")
def test_workers_without_stdout_do_not_crash(tmp_path):
    """A windowed frozen app has sys.stdout = None in every process: print must not crash."""
    log = tmp_path / "worker.log"
    result = tmp_path / "result.json"
    script = run_script(
        """
        import json, logging, sys
        assert sys.stdout is None and sys.stderr is None
        logging.basicConfig(filename=sys.argv[1], level=logging.INFO)
        from qtcompute import Pool
        import engine_tasks as tasks
        with Pool(1) as pool:
            value = pool.submit(tasks.print_and_log, "windowed").result(timeout=60)
        json.dump(value, open(sys.argv[2], "w"))
        """,
        str(log),
        str(result),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_close_stdio,
    )
    assert script.wait(timeout=60) == 0
    assert json.loads(result.read_text()) == "windowed"
    text = log.read_text()
    assert "stdout: windowed" in text and "log: windowed" in text, text


def _close_stdio() -> None:
    os.close(1)
    os.close(2)
