"""One pool's machinery, put together: the shared state and the collaborators that act on it.

``Pool`` is the public face; this is what it drives, and what each ``TaskFuture`` calls back
(:class:`~qtcompute.engine._future.TaskOwner`). It holds no reference to the ``Pool``, so a pool
nobody references is collected and shut down (see ``Pool.__init__``).

Who does what (``docs/engine.md`` follows one task through them):

- :class:`~qtcompute.engine._dispatch.Dispatcher`: submit, queue, send to an idle worker;
- :class:`~qtcompute.engine._receive.Receiver`: read replies and settle futures, in the
  supervisor thread or in a thread blocked in ``result()``;
- :class:`~qtcompute.engine._lifecycle.Lifecycle`: start, retire, stop and reap workers;
- :class:`~qtcompute.engine._supervisor.Supervisor`: the thread that waits on all of them;
- :class:`~qtcompute.engine._state.PoolState`: the data they share, under one lock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qtcompute.engine._dispatch import Dispatcher
from qtcompute.engine._lifecycle import Lifecycle
from qtcompute.engine._outbox import Outbox
from qtcompute.engine._receive import Receiver
from qtcompute.engine._records import PoolEvent, PoolStats, WorkerState
from qtcompute.engine._state import PoolState
from qtcompute.engine._supervisor import Supervisor

if TYPE_CHECKING:
    from qtcompute.engine._future import TaskFuture


class PoolCore:
    """The parts of one pool, composed; implements the ``TaskOwner`` protocol."""

    # The verbs on every round trip: the collaborators' own methods, bound once in __init__.
    submit: Callable[..., TaskFuture[Any]]
    forget: Callable[[TaskFuture[Any]], None]
    stop_task: Callable[[TaskFuture[Any]], bool]
    wait_directly: Callable[[TaskFuture[Any], float | None], None]
    ping: Callable[[float | None], dict[int, float]]

    def __init__(self, state: PoolState, name: str) -> None:
        """Start the pool described by ``state`` (its settings; the rest starts empty): the
        supervisor thread, which starts the workers. ``name`` names the thread."""
        self.state = state
        self.unretrieved = state.unretrieved
        self.lifecycle = Lifecycle(state)
        self.dispatcher = Dispatcher(state, self.lifecycle, self)
        self.receiver = Receiver(state, self.lifecycle, self.dispatcher)
        self.submit = self.dispatcher.submit
        self.forget = self.dispatcher.forget
        self.stop_task = self.dispatcher.stop_task
        self.wait_directly = self.receiver.wait_directly
        self.ping = self.dispatcher.ping
        self.supervisor = Supervisor(state, self.lifecycle, self.receiver, name)
        self.start_error = self.supervisor.start_error

    @property
    def workers(self) -> int:
        return self.state.workers

    @property
    def alive(self) -> bool:
        return self.supervisor.alive

    def shutdown(self, wait: bool, cancel_futures: bool, stop_running: bool) -> None:
        state = self.state
        out = Outbox()
        with state.lock:
            state.shutdown = True
            state.stop_running = state.stop_running or stop_running
            if cancel_futures:
                self.dispatcher.cancel_pending(out)
        out.deliver()
        state.wake()
        if wait:
            self.supervisor.join()

    def interpreter_exiting(self) -> None:
        """The interpreter is exiting (the pool's atexit hook): submit() raises from now on."""
        self.state.interpreter_exiting = True

    def subscribe(self, listener: Callable[[PoolEvent], object]) -> Callable[[], None]:
        state = self.state
        with state.lock:
            state.listeners.append(listener)

        def unsubscribe() -> None:
            with state.lock:
                if listener in state.listeners:
                    state.listeners.remove(listener)

        return unsubscribe

    def stats(self) -> PoolStats:
        with self.state.lock:
            return self.state.stats()

    def pids(self) -> list[int]:
        with self.state.lock:
            return [w.pid for w in self.state.handles if w.state is not WorkerState.STOPPING]
