"""The wire under the engine: frame reading with read-ahead, cached function pickles."""

from __future__ import annotations

import os
import struct
import sys
import threading

import engine_tasks as tasks
import pytest

from qtcompute.engine import _messages as msg

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX descriptors")

if sys.platform != "win32":
    from qtcompute.engine._pipes import FrameReader, send_frame


@pytest.fixture
def pipe():
    reader, writer = os.pipe()
    yield reader, writer
    for fd in (reader, writer):
        try:
            os.close(fd)
        except OSError:
            pass


def test_frames_written_together_are_read_one_by_one(pipe):
    reader_fd, writer_fd = pipe
    frames = [b"first", b"", b"x" * 1000, b"last"]
    payload = b"".join(struct.pack("!i", len(f)) + f for f in frames)
    os.write(writer_fd, payload)
    reader = FrameReader(reader_fd)
    got = [reader.read()]
    assert reader.buffered()  # the rest came with the first read
    got += [reader.read() for _ in range(3)]
    assert got == frames
    assert not reader.buffered()


def test_a_frame_larger_than_one_read_arrives_whole(pipe):
    reader_fd, writer_fd = pipe
    frame = os.urandom(3 * 1024 * 1024 + 17)
    sender = threading.Thread(target=send_frame, args=(writer_fd, frame))
    sender.start()
    got = FrameReader(reader_fd).read()
    sender.join()
    assert bytes(got) == frame


def test_a_frame_split_across_writes_waits_for_its_end(pipe):
    reader_fd, writer_fd = pipe
    os.write(writer_fd, struct.pack("!i", 6) + b"abc")
    reader = FrameReader(reader_fd)
    assert not reader.buffered()
    os.write(writer_fd, b"def" + struct.pack("!i", 1))
    assert reader.read() == b"abcdef"
    assert not reader.buffered()  # half a header is not a frame
    os.write(writer_fd, b"z")
    assert reader.read() == b"z"


def test_the_long_length_header_is_understood(pipe):
    reader_fd, writer_fd = pipe
    os.write(writer_fd, struct.pack("!i", -1) + struct.pack("!Q", 5) + b"hello")
    assert FrameReader(reader_fd).read() == b"hello"


def test_eof_in_the_middle_of_a_frame_is_eof(pipe):
    reader_fd, writer_fd = pipe
    os.write(writer_fd, struct.pack("!i", 10) + b"abc")
    os.close(writer_fd)
    with pytest.raises(EOFError):
        FrameReader(reader_fd).read()


def test_task_frames_round_trip_with_the_function_cached():
    first = msg.decode(msg.encode(1, msg.RunTask(tasks.add, (1, 2), {"z": 3})))
    second = msg.decode(msg.encode(2, msg.RunTask(tasks.add, (4, 5), {})))
    assert first == msg.RunTask(tasks.add, (1, 2), {"z": 3})
    assert second.function is tasks.add and second.args == (4, 5)
    assert msg._function_parts[tasks.add] is msg._function_part(tasks.add)


def test_methods_are_pickled_every_time_so_their_state_is_current():
    counter = tasks.Counter(1)
    before = msg.decode(msg.encode(1, msg.RunTask(counter.value, (), {}))).function
    counter.count = 7
    after = msg.decode(msg.encode(2, msg.RunTask(counter.value, (), {}))).function
    assert (before(), after()) == (1, 7)


def test_the_function_caches_stay_bounded():
    for index in range(msg._CACHE_SIZE + 10):
        function = tasks.make_module_function(index)
        assert msg.decode(msg.encode(1, msg.RunTask(function, (), {}))).function() == index
    assert len(msg._function_parts) <= msg._CACHE_SIZE
    assert len(msg._functions) <= msg._CACHE_SIZE


def test_bound_builtin_methods_are_pickled_every_time():
    settings = {"k": 1}
    before = msg.decode(msg.encode(1, msg.RunTask(settings.get, ("k",), {}))).function
    settings["k"] = 2
    after = msg.decode(msg.encode(2, msg.RunTask(settings.get, ("k",), {}))).function
    assert (before("k"), after("k")) == (1, 2)
    assert settings.get not in msg._function_parts


def test_module_level_builtins_are_cached():
    import math

    msg.encode(1, msg.RunTask(math.sqrt, (4,), {}))
    assert math.sqrt in msg._function_parts


def test_an_interrupted_copy_still_settles_the_future_once():
    from qtcompute.engine._future import TaskFuture
    from qtcompute.engine._outbox import _settle_computed
    from qtcompute.engine._unretrieved import UnretrievedErrors

    def interrupted():
        raise KeyboardInterrupt

    class NoPool:  # the one part of a supervisor a future settled by hand uses
        unretrieved = UnretrievedErrors()

    future = TaskFuture(1, NoPool())  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        _settle_computed(future, interrupted, ())
    assert isinstance(future.exception(timeout=0), KeyboardInterrupt)
