"""The attempt state machine and the job messages that reports leave behind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from suanli.domain.attempts import Attempt, AttemptState, check_attempt_transition, outcome_message
from suanli.domain.errors import IllegalTransition

T0 = datetime(2026, 11, 28, tzinfo=UTC)


def attempt(state: AttemptState = AttemptState.ASSIGNED) -> Attempt:
    return Attempt(job_id=1, number=1, center="qd", pool="gpu", node_indices=(0,), state=state, created_at=T0)


def test_an_attempt_runs_then_ends_and_stamps_its_times() -> None:
    running = attempt().transitioned(AttemptState.RUNNING, T0)
    assert running.started_at == T0 and running.ended_at is None
    done = running.transitioned(AttemptState.FAILED, T0, exit_code=2, message="oom")
    assert (done.state, done.exit_code, done.message, done.ended_at) == (AttemptState.FAILED, 2, "oom", T0)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (AttemptState.RUNNING, AttemptState.REFUSED),  # refusing is for work not yet started
        (AttemptState.RUNNING, AttemptState.ASSIGNED),
        (AttemptState.SUCCEEDED, AttemptState.RUNNING),
        (AttemptState.LOST, AttemptState.SUCCEEDED),  # fencing: a lost attempt never succeeds
        (AttemptState.REFUSED, AttemptState.RUNNING),
    ],
)
def test_forbidden_moves_raise(current: AttemptState, target: AttemptState) -> None:
    with pytest.raises(IllegalTransition):
        check_attempt_transition(current, target)


def test_live_and_final_states() -> None:
    assert {s for s in AttemptState if s.is_live} == {AttemptState.ASSIGNED, AttemptState.RUNNING}


def test_outcome_messages() -> None:
    assert outcome_message(AttemptState.SUCCEEDED, 0, "") == "exit code 0"
    assert outcome_message(AttemptState.FAILED, 3, "NaN") == "exit code 3; NaN"
    # An executor that says the code itself is not repeated ("exit code 3; exited with code 3").
    assert outcome_message(AttemptState.FAILED, 3, "exited with code 3") == "exited with code 3"
    assert (
        outcome_message(AttemptState.FAILED, 3, "exited with code 1 on rank 2")
        == "exit code 3; exited with code 1 on rank 2"
    )
    assert outcome_message(AttemptState.FAILED, 1, "exited with code 13") == "exit code 1; exited with code 13"
    assert outcome_message(AttemptState.FAILED, None, "killed by signal 9") == "killed by signal 9"
    assert outcome_message(AttemptState.REFUSED, None, "disk full") == (
        "the center refused the assignment: disk full; waiting again"
    )
