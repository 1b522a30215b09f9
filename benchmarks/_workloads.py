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


def pool_bench_server():
    """A child process that times qtcompute's Pool on command, for comparisons between two
    versions of the code in the same run (``bench_engine``, ``QTCOMPUTE_BENCH_BASELINE``).

    Reads ``rt N`` (N round trips, one worker) or ``map N`` (a map of N tiny items, two workers)
    lines on stdin; answers each with one JSON line on stdout: the samples in seconds, or the
    rate in items per second.
    """
    import json
    import sys
    import time

    from qtcompute import Pool

    pool = Pool(1)
    pool.ping(timeout=60)
    for _ in range(100):
        pool.submit(add, 1, 2).result()
    clock = time.perf_counter
    for line in sys.stdin:
        command, count = line.split()
        n = int(count)
        if command == "rt":
            samples = []
            for _ in range(n):
                start = clock()
                pool.submit(add, 1, 2).result()
                samples.append(clock() - start)
            print(json.dumps(samples), flush=True)
        elif command == "map":
            xs = list(range(n))
            with Pool(2) as mapper:
                mapper.ping(timeout=60)
                start = clock()
                result = list(mapper.map(add, xs, xs))
                rate = n / (clock() - start)
            assert result[-1] == 2 * xs[-1]
            print(json.dumps(rate), flush=True)
    pool.shutdown()
