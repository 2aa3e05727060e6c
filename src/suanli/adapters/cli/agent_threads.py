"""Agents on threads of their own, for `suanli agent` and `suanli up`: one stop for all of them,
set by a signal, Ctrl-C or the first of them to fail, whose error the main thread raises."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from suanli.adapters.cli.output import EXIT_SERVER, error

Work = Callable[[threading.Event], object]  # runs until the event is set, e.g. Agent.run
_READY_POLL_S = 0.05


class AgentThreads:
    def __init__(self) -> None:
        self.stop = threading.Event()
        self.failure: list[BaseException] = []
        self._threads: list[threading.Thread] = []

    def start(
        self,
        name: str,
        work: Work,
        *,
        after: threading.Event | None = None,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Runs ``work(stop)`` on a daemon thread called ``name``: once ``after`` is set, when
        given (the server it talks to answers), unless the stop comes first. ``then`` is called
        when it ends, however it ends. An error it ends with stops the others too."""

        def body() -> None:
            try:
                if after is None or self._until_stopped(after):
                    work(self.stop)
            except BaseException as exc:  # noqa: BLE001 - the main thread raises it (raise_failure)
                self.failure.append(exc)
                self.stop.set()
            finally:
                if then is not None:
                    then()

        thread = threading.Thread(target=body, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _until_stopped(self, event: threading.Event) -> bool:
        """Waits for ``event``; False if the stop came first."""
        while not event.wait(_READY_POLL_S):
            if self.stop.is_set():
                return False
        return True

    def wait(self) -> None:
        """Returns when the stop is set; Ctrl-C sets it."""
        try:
            while not self.stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            self.stop.set()

    def join(self, timeout_s: float) -> None:
        """Waits up to ``timeout_s`` for each thread; one still in a long poll is abandoned (the
        threads are daemons: the process exits all the same)."""
        for thread in self._threads:
            thread.join(timeout=timeout_s)

    def raise_failure(self) -> None:
        """Raises what ended a thread, if anything did: the server's refusal of the agent as a
        one-line error."""
        from suanli.agent.runner import AgentFatal

        if self.failure:
            if isinstance(self.failure[0], AgentFatal):
                raise error(str(self.failure[0]), code=EXIT_SERVER)
            raise self.failure[0]


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event, *signals: signal.Signals) -> Iterator[None]:
    """While in the block, ``signals`` set ``stop`` (and do nothing else); the handlers before
    come back after it."""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
