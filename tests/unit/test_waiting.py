"""The test suite's waiting helpers (tests/waiting.py): guards against hanging, not timers."""

import threading

import pytest

from tests.waiting import finishes, wait_until


def test_wait_until_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, "", "ready"])
    assert wait_until(lambda: next(answers), "an answer", interval_s=0) == "ready"


def test_wait_until_fails_saying_what_did_not_happen() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"the job never ran \(gave up after 0.01 s\)"):
        wait_until(lambda: False, "the job never ran", timeout_s=0.01, interval_s=0)
    with pytest.raises(pytest.fail.Exception, match="read at the end"):
        wait_until(lambda: False, lambda: "read at the end", timeout_s=0, interval_s=0)


def test_finishes_returns_or_raises_what_the_work_did() -> None:
    assert finishes(lambda: 42, "the answer") == 42

    def refuse() -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        finishes(refuse, "the refusal")


def test_finishes_fails_when_the_work_hangs() -> None:
    release = threading.Event()
    try:
        with pytest.raises(pytest.fail.Exception, match=r"the call hangs \(gave up after 0.01 s\)"):
            finishes(release.wait, "the call", timeout_s=0.01)
    finally:
        release.set()
