"""Sending and receiving frames on a worker pipe, with as little Python as possible.

``multiprocessing.connection.Connection.send_bytes``/``recv_bytes`` are correct everywhere but
cost several Python calls and a ``BytesIO`` per message; on the tiny-task round trip that is a
sizeable share of the time. On POSIX we read and write the descriptor directly with the very same
framing (a 4-byte big-endian length, or -1 and an 8-byte length for huge frames), so either end
may still use the ``Connection`` methods. Windows pipes need overlapped I/O: there we defer to the
``Connection`` methods.
"""

from __future__ import annotations

import os
import struct
import sys
from multiprocessing.connection import Connection
from typing import Any

_LENGTH = struct.Struct("!i")
_LONG_LENGTH = struct.Struct("!Q")

if sys.platform == "win32":

    def endpoint(conn: Connection) -> Any:
        """What send_frame/recv_frame take: the Connection itself on Windows."""
        return conn

    def send_frame(conn: Connection, data: bytes) -> None:
        conn.send_bytes(data)

    def recv_frame(conn: Connection) -> bytes:
        return conn.recv_bytes()

else:

    def endpoint(conn: Connection) -> Any:
        """What send_frame/recv_frame take: the descriptor on POSIX (looked up once: the
        Connection's own fileno() is a Python call with checks, on every frame)."""
        return conn.fileno()

    def send_frame(fd: int, data: bytes) -> None:
        size = len(data)
        if size > 0x7FFFFFFF:
            header = _LENGTH.pack(-1) + _LONG_LENGTH.pack(size)
        else:
            header = _LENGTH.pack(size)
        if size < 65536:
            buffer = memoryview(header + data)  # one write for the common small frame
        else:
            _write_all(fd, memoryview(header))
            buffer = memoryview(data)
        _write_all(fd, buffer)

    def _write_all(fd: int, buffer: memoryview) -> None:
        while buffer:
            written = os.write(fd, buffer)
            buffer = buffer[written:]

    def recv_frame(fd: int) -> bytes:
        header = _read_exact(fd, 4)
        (size,) = _LENGTH.unpack(header)
        if size == -1:
            (size,) = _LONG_LENGTH.unpack(_read_exact(fd, 8))
        return _read_exact(fd, size)

    def _read_exact(fd: int, size: int) -> bytes:
        data = os.read(fd, size)
        if len(data) == size:
            return data
        if not data:
            raise EOFError
        parts = [data]
        remaining = size - len(data)
        while remaining:
            chunk = os.read(fd, min(remaining, 1 << 24))
            if not chunk:
                raise EOFError
            parts.append(chunk)
            remaining -= len(chunk)
        return b"".join(parts)
