"""A wake-up that any thread can fire and any asyncio task can wait on.

The scheduler runs in a thread; agents' long polls wait on the event loop. A generation counter
closes the gap between a poll's database check and its wait: a notification that lands in
between is not lost, because the waiter sees the generation has moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Signal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    @property
    def generation(self) -> int:
        return self._generation

    def notify(self) -> None:
        with self._lock:
            self._generation += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed; its waiter went with it
                loop.call_soon_threadsafe(event.set)

    async def wait(self, since: int, timeout: float) -> bool:
        """Until notified after generation ``since``, or ``timeout`` seconds; True if notified."""
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._generation != since:
                return True
            self._waiters.add(waiter)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(waiter)
