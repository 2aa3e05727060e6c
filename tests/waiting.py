"""Waiting in tests without timing them.

A test may wait for something to happen, with a generous deadline that only guards against
hanging: when it passes, the test fails saying what did not happen. A test never asserts how
long something took; performance targets are measured in benchmarks/ (see DESIGN.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def _say(what: str | Callable[[], str]) -> str:
    return what if isinstance(what, str) else what()


def wait_until(
    check: Callable[[], T], what: str | Callable[[], str], timeout_s: float = 30.0, interval_s: float = 0.05
) -> T:
    """Calls ``check`` until it returns something truthy, and returns that. After ``timeout_s``
    the test fails with ``what``: what did not happen, in words (or a function that says it, for
    a message read only then, such as a process's output so far)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:  # a guard against hanging, not a measurement
            pytest.fail(f"{_say(what)} (gave up after {timeout_s:g} s)")
        time.sleep(interval_s)


def finishes(work: Callable[[], T], what: str, timeout_s: float = 60.0) -> T:
    """Runs ``work`` in a thread and returns its result, or raises what it raised. If it has not
    finished after ``timeout_s`` the test fails saying ``what`` hangs (the thread is left behind,
    as a daemon, rather than the whole test run hanging with it)."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # pytest.raises and pytest.fail raise BaseExceptions too
            failure.append(error)

    thread = threading.Thread(target=run, name="finishes", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        pytest.fail(f"{what} hangs (gave up after {timeout_s:g} s)")
    if failure:
        raise failure[0]
    return outcome[0]
