"""The scheduler loop inside the server: a cycle on events and on a timer, by the leader only.

Events (a submission, a capacity change, a cancellation) call ``wake``; bursts coalesce into one
cycle. Every process runs a loop, but only the holder of the leader lock schedules: when the
leader dies its lock is freed and another process takes over within one interval. An event in
a process that does not lead is passed on through ``wakeups`` (PostgreSQL NOTIFY) to the one
that does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from suanli.services.ports import CycleRecord, LeaderLock, Wakeups
from suanli.services.scheduling import SchedulingService

log = logging.getLogger(__name__)


class SchedulerLoop:
    def __init__(
        self,
        scheduling: SchedulingService,
        leader: LeaderLock,
        interval_s: float = 1.0,
        min_gap_s: float = 0.05,
        wakeups: Wakeups | None = None,
        housekeeping: Callable[[], bool] | None = None,
    ) -> None:
        self.scheduling = scheduling
        self.leader = leader
        self.wakeups = wakeups
        # Leader-only work before each cycle (silent centers go OFFLINE); True if capacity changed.
        self.housekeeping = housekeeping
        self.leading = False  # as of the last attempt; cheap to read on every event
        self.interval_s = interval_s
        self.min_gap_s = min_gap_s  # leaves room for the API between back-to-back cycles
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cycles = 0
        self.last: CycleRecord | None = None
        self.last_error = ""

    def wake(self) -> None:
        self._wake.set()
        if self.wakeups is not None and not self.leading:
            try:
                self.wakeups.notify()
            except Exception:  # the leader's timer will find the work anyway
                log.warning("could not wake the scheduler of another process", exc_info=True)

    @property
    def is_leader(self) -> bool:
        return self.leader.held()

    def start(self) -> None:
        if self._thread is None:
            self._wake.set()  # try for the lead (and the backlog) at once, not after one interval
            self._thread = threading.Thread(target=self._run, name="suanli-scheduler", daemon=True)
            self._thread.start()
            if self.wakeups is not None:
                self.wakeups.listen(self._wake.set, self._stop)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.leader.release()

    def run_once(self) -> CycleRecord | None:
        """One cycle if this process leads; None otherwise."""
        self.leading = self.leader.try_acquire()
        if not self.leading:
            return None
        if self.housekeeping is not None and self.housekeeping():
            self.scheduling.invalidate()
        self.last = self.scheduling.run_cycle()
        self.cycles += 1
        return self.last

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.run_once()
                self.last_error = ""
            except Exception as error:  # a failed cycle must not kill the loop; the next one retries
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("scheduling cycle failed")
            self._stop.wait(self.min_gap_s)
