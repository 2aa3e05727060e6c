"""Slows down password guessing: after a few failed sign-ins for one name, or from one client
address, each further attempt must wait, the wait doubling with every failure.

Counted per server process, in memory: with ``--workers N`` a guesser gets N times the free
attempts before the waits begin, which still leaves guessing hopeless against a 10-character
password. Every failed attempt is also in the audit log, whichever process answered it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from suanli.domain.errors import TooManyAttempts
from suanli.services.clock import Clock

_MAX_KEYS = 100_000  # beyond this the oldest records are dropped: memory stays bounded under a flood


@dataclass(slots=True)
class _Failures:
    count: int
    last_at: datetime


@dataclass(frozen=True, slots=True)
class Allowance:
    free: int  # failures allowed before the waits begin
    first_wait_s: float
    longest_wait_s: float

    def wait_s(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.longest_wait_s, self.first_wait_s * 2.0 ** (failures - self.free))


# One name is one account; one address may be a whole campus behind NAT, so it gets more.
PER_NAME = Allowance(free=5, first_wait_s=1.0, longest_wait_s=900.0)
PER_CLIENT = Allowance(free=20, first_wait_s=1.0, longest_wait_s=900.0)


class LoginThrottle:
    def __init__(self, clock: Clock, *, forget_after_s: float = 3600.0) -> None:
        self.clock = clock
        self.forget_after_s = forget_after_s  # a quiet hour and the slate is clean
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def check(self, name: str, client: str) -> None:
        """TooManyAttempts if the name or the client must still wait."""
        now = self.clock.now()
        with self._lock:
            wait = max(
                self._wait(("name", name.lower()), PER_NAME, now), self._wait(("client", client), PER_CLIENT, now)
            )
        if wait > 0:
            raise TooManyAttempts(
                f"too many failed sign-ins for {name!r} or from this address; try again in {math.ceil(wait)} s",
                retry_after_s=math.ceil(wait),
            )

    def failed(self, name: str, client: str) -> None:
        now = self.clock.now()
        with self._lock:
            for key in (("name", name.lower()), ("client", client)):
                record = self._current(key, now)
                if record is None:
                    if len(self._failures) >= _MAX_KEYS:
                        self._failures.pop(next(iter(self._failures)))
                    self._failures[key] = _Failures(1, now)
                else:
                    record.count += 1
                    record.last_at = now

    def succeeded(self, name: str) -> None:
        """The name's count starts again; the address's does not (one right password among many
        guesses from one place says nothing about the others)."""
        with self._lock:
            self._failures.pop(("name", name.lower()), None)

    def _current(self, key: tuple[str, str], now: datetime) -> _Failures | None:
        record = self._failures.get(key)
        if record is not None and (now - record.last_at).total_seconds() >= self.forget_after_s:
            del self._failures[key]
            return None
        return record

    def _wait(self, key: tuple[str, str], allowance: Allowance, now: datetime) -> float:
        record = self._current(key, now)
        if record is None:
            return 0.0
        return allowance.wait_s(record.count) - (now - record.last_at).total_seconds()
