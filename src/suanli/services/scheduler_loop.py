"""The scheduler loop inside the server: a cycle on events and on a timer, by the leader only.

Events (a submission, a capacity change, a cancellation) call ``wake``; bursts coalesce into one
cycle. Every process runs a loop, but only the holder of the leader lock schedules: when the
leader dies its lock is freed and another process takes over within one interval.
"""

from __future__ import annotations

import logging
import threading

from suanli.services.ports import CycleRecord, LeaderLock
from suanli.services.scheduling import SchedulingService

log = logging.getLogger(__name__)


class SchedulerLoop:
    def __init__(
        self,
        scheduling: SchedulingService,
        leader: LeaderLock,
        interval_s: float = 1.0,
        min_gap_s: float = 0.05,
    ) -> None:
        self.scheduling = scheduling
        self.leader = leader
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

    @property
    def is_leader(self) -> bool:
        return self.leader.held()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="suanli-scheduler", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.leader.release()

    def run_once(self) -> CycleRecord | None:
        """One cycle if this process leads; None otherwise."""
        if not self.leader.try_acquire():
            return None
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
