"""Is the scheduler still there? A thread that asks it while tasks are pending.

A scheduler that stops or crashes closes its connection, and Dask cancels the client's futures
at once (``DaskPool`` turns that into ``SchedulerLostError``). One that stops answering without
closing (a frozen process, a network cut, a machine that lost power) leaves the connection open
and the futures pending forever; this watchdog bounds that wait to ``scheduler_timeout``.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections.abc import Callable
from typing import Any

import distributed


class SchedulerWatchdog:
    """Asks the scheduler for its identity every ``heartbeat`` seconds while ``busy()``; calls
    ``on_silence(seconds)`` each time it has been silent for ``timeout`` seconds or more."""

    def __init__(
        self,
        client: distributed.Client,
        *,
        heartbeat: float,
        timeout: float,
        busy: Callable[[], bool],
        on_silence: Callable[[float], None],
    ) -> None:
        self._client = client
        self._heartbeat = heartbeat
        self._timeout = timeout
        self._busy = busy
        self._on_silence = on_silence
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name="qtcompute-dask-watchdog", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _watch(self) -> None:
        silent_since: float | None = None
        while not self._stopped.wait(self._heartbeat):  # the heartbeat itself, not a poll
            if not self._busy() or self._scheduler_answers():
                silent_since = None
                continue
            now = time.monotonic()
            silent_since = silent_since or now
            if now - silent_since >= self._timeout:
                self._on_silence(now - silent_since)

    def _scheduler_answers(self) -> bool:
        if self._client.status != "running":
            return False
        answer: cf.Future[Any] = cf.Future()

        async def identity() -> None:
            try:
                answer.set_result(await self._client.scheduler.identity())
            except BaseException as exc:
                answer.set_exception(exc)

        try:
            self._client.loop.add_callback(identity)
            # Waited for here, not in the loop: a loop that is stuck counts as silent too.
            answer.result(timeout=self._heartbeat)
        except Exception:
            return False
        return True
