"""Functions the benchmarks run in worker processes (module level: spawn imports them)."""

from __future__ import annotations

import pickle
import struct


def add(x, y):
    return x + y


def add_pair(pair):
    return pair[0] + pair[1]


def seed_worker(input_queue, output_queue):
    """The seed's design: an endless loop over a multiprocessing.Queue pair, EXIT to stop."""
    while True:
        data = input_queue.get()
        if data == "EXIT":
            break
        x, y = data
        output_queue.put(x + y)


def socket_worker(sock):
    """The floor: a raw socketpair with length-prefixed pickle, nothing else."""
    header = struct.Struct("<I")
    while True:
        raw = _recv_exact(sock, header.size)
        if not raw:
            return
        (size,) = header.unpack(raw)
        x, y = pickle.loads(_recv_exact(sock, size))
        reply = pickle.dumps(x + y, protocol=5)
        sock.sendall(header.pack(len(reply)) + reply)


def _recv_exact(sock, size):
    chunks = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            return b""
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def forever():
    while True:
        pass


def double(array):
    return array * 2


def nbytes(array):
    return array.nbytes


def seed_array_worker(input_queue, output_queue):
    """The seed's loop again, for arrays: double what comes in."""
    while True:
        data = input_queue.get()
        if isinstance(data, str) and data == "EXIT":
            break
        output_queue.put(data * 2)
