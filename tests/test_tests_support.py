"""The leak check of the engine's tests must see this run's leaks and only those."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from multiprocessing import shared_memory

import pytest

from tests_support import new_shm, shm_entries

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/shm, /proc")

# A process outside this run's tree: the child forks, prints, and exits, so the grandchild
# holding the segment is nobody's descendant here (reparented), as another test run would be.
_OUTSIDER = textwrap.dedent(
    """
    import os, sys
    from multiprocessing import shared_memory
    if os.fork():
        os._exit(0)
    segment = shared_memory.SharedMemory(create=True, size=4096)
    print(segment.name.lstrip("/"), os.getpid(), flush=True)
    sys.stdin.read()  # mapped until the test closes the pipe
    segment.close()
    segment.unlink()
    """
)


def test_a_segment_this_run_leaves_counts() -> None:
    before = shm_entries()
    leaked = shared_memory.SharedMemory(create=True, size=4096)
    name = leaked.name.lstrip("/")
    leaked.close()  # unmapped, but still in /dev/shm: a leak
    try:
        assert name in new_shm(before)
    finally:
        leaked.unlink()
    assert name not in new_shm(before)


def test_a_segment_another_run_holds_is_not_this_runs_leak() -> None:
    before = shm_entries()
    with subprocess.Popen(
        [sys.executable, "-c", _OUTSIDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as outsider:  # on leaving: its pipes closed, so the grandchild unlinks and exits
        assert outsider.stdout is not None
        name, _pid = outsider.stdout.readline().split()
        outsider.wait()  # the child is gone; its detached grandchild maps the segment
        assert name in shm_entries() - before, "the outsider's segment is in /dev/shm"
        assert name not in new_shm(before)
