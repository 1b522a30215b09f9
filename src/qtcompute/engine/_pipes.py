"""Sending and reading frames on one pipe: :func:`send_frame` and :class:`FrameReader`.

``multiprocessing.connection``'s framing, on the raw descriptors on POSIX (one ``read`` per small
frame) and through the ``Connection`` methods on Windows. Why: ``docs/engine.md``, "Frames".
"""

from __future__ import annotations

import os
import struct
import sys
from multiprocessing.connection import Connection
from typing import Any

_LENGTH = struct.Struct("!i")
_LONG_LENGTH = struct.Struct("!Q")
_CHUNK = 65536  # what one read takes from the pipe: any small frame, whole

if sys.platform == "win32":

    def endpoint(conn: Connection) -> Any:
        """What send_frame and FrameReader take: the Connection itself on Windows."""
        return conn

    def send_frame(conn: Connection, data: bytes) -> None:
        conn.send_bytes(data)

    class FrameReader:
        """Reads frames from a Connection (Windows): no read-ahead, ``buffered()`` is False."""

        __slots__ = ("conn",)

        def __init__(self, conn: Connection) -> None:
            self.conn = conn

        def buffered(self) -> bool:
            return False

        def read(self) -> bytes:
            return self.conn.recv_bytes()

else:

    def endpoint(conn: Connection) -> Any:
        """What send_frame and FrameReader take: the descriptor on POSIX (looked up once: the
        Connection's own fileno() is a Python call with checks, on every frame)."""
        return conn.fileno()

    def send_frame(fd: int, data: bytes) -> None:
        size = len(data)
        if size < 65536:  # the common small frame: one write, whole (pipes take it at once)
            buffer = _LENGTH.pack(size) + data
            written = os.write(fd, buffer)
            if written != len(buffer):
                _write_all(fd, memoryview(buffer)[written:])
            return
        if size > 0x7FFFFFFF:
            header = _LENGTH.pack(-1) + _LONG_LENGTH.pack(size)
        else:
            header = _LENGTH.pack(size)
        _write_all(fd, memoryview(header))
        _write_all(fd, memoryview(data))

    def _write_all(fd: int, buffer: memoryview) -> None:
        while buffer:
            written = os.write(fd, buffer)
            buffer = buffer[written:]

    class FrameReader:
        """Reads frames from a descriptor, one ``read`` per small frame.

        Whatever arrives after the frame being read (a worker may send progress, output and its
        result back to back) stays in the buffer: check :meth:`buffered` before blocking on the
        descriptor, since select()/poll() know nothing of it. One reader per descriptor, used
        by one thread at a time.
        """

        __slots__ = ("_buffer", "_start", "fd", "frames", "publish")

        def __init__(self, fd: int) -> None:
            self.fd = fd
            self._buffer = b""
            self._start = 0  # where the unread part of _buffer begins (no copy per frame)
            # Frames read so far, modulo 2**32: compared with the writer's count of frames
            # written (see _channel) to learn without a system call that one is coming.
            self.frames = 0
            # (page, index): where to publish ``frames`` for the writer (see _channel).
            self.publish: tuple[Any, int] | None = None

        def buffered(self) -> bool:
            """True if a whole frame is already here (read() will not block)."""
            buffer, start = self._buffer, self._start
            available = len(buffer) - start
            if available < 4:
                return False
            (size,) = _LENGTH.unpack_from(buffer, start)
            if size == -1:
                if available < 12:
                    return False
                return available >= 12 + _LONG_LENGTH.unpack_from(buffer, start + 4)[0]
            return available >= 4 + size

        def read(self) -> bytes:
            """The next frame; blocks until it is complete. EOFError when the pipe closed."""
            buffer, start = self._buffer, self._start
            if not buffer:  # nothing read ahead, the common case: one read, no joining
                buffer = os.read(self.fd, _CHUNK)
                if len(buffer) < 4:
                    if not buffer:
                        raise EOFError
                    buffer, start = self._more(buffer, 0, 4)
            elif len(buffer) - start < 4:
                buffer, start = self._more(buffer, start, 4)
            (size,) = _LENGTH.unpack_from(buffer, start)
            begin = start + 4
            if size == -1:
                if len(buffer) - start < 12:
                    buffer, start = self._more(buffer, start, 12)
                (size,) = _LONG_LENGTH.unpack_from(buffer, start + 4)
                begin = start + 12
            end = begin + size
            frames = self.frames = (self.frames + 1) & 0xFFFFFFFF
            if self.publish is not None:
                page, index = self.publish
                page[index] = frames
            if len(buffer) >= end:
                if end == len(buffer):
                    self._buffer, self._start = b"", 0
                else:
                    self._buffer, self._start = buffer, end
                return buffer[begin:end]
            self._buffer, self._start = b"", 0
            return _read_rest(self.fd, buffer[begin:], size)

        def _more(self, buffer: bytes, start: int, need: int) -> tuple[bytes, int]:
            """Read until at least ``need`` unread bytes are here; the unread part, from 0."""
            rest = buffer[start:]
            while len(rest) < need:
                chunk = os.read(self.fd, _CHUNK)
                if not chunk:
                    raise EOFError
                rest = rest + chunk if rest else chunk
            return rest, 0

    def _read_rest(fd: int, head: bytes, size: int) -> bytes:
        # A large frame: read straight into its final buffer, with no joining copy.
        frame = bytearray(size)
        frame[: len(head)] = head
        view = memoryview(frame)
        filled = len(head)
        while filled < size:
            count = os.readv(fd, [view[filled : filled + (1 << 24)]])
            if not count:
                raise EOFError
            filled += count
        return frame  # type: ignore[return-value]  # a buffer like bytes, without a copy
