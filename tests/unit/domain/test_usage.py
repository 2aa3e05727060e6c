"""The rules of usage records: what an attempt holds, where its intervals start and end (the LOST
rule included), and whose records a principal may read."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from suanli.domain.attempts import AttemptState
from suanli.domain.errors import InvalidSpec
from suanli.domain.identity import FULL_SCOPES, Principal, PrincipalKind, Role
from suanli.domain.job_reach import EVERY_JOB, JobReach
from suanli.domain.usage import (
    CHECKPOINT,
    FINAL_REASONS,
    UsageRecord,
    checkpoint_interval,
    final_interval,
    held,
    readable_usage,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
HOUR = 3600.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(**fields: object) -> UsageRecord:
    values: dict[str, object] = {
        "job_id": 1,
        "attempt": 1,
        "interval_start": at(0),
        "interval_end": at(1800),
        "organization": "acme",
        "project": "default",
        "center": "qd-ai",
        "center_organization": "qd-gov",
        "pool": "gpu",
        "accelerator": "A100-80G",
        "accelerators": 16,
        "cpus": 8,
        "memory_gb": 64.0,
        "reason": "SUCCEEDED",
        "recorded_at": at(1800),
    }
    return UsageRecord(**(values | fields))  # type: ignore[arg-type]


def test_a_gang_holds_its_slots_on_every_node_and_a_cpu_job_holds_no_accelerator() -> None:
    assert held("A100-80G", 8, 2, 16, 128.0) == held("A100-80G", 8, 2, 16, 128.0)
    gang = held("A100-80G", 8, 2, 16, 128.0)
    assert (gang.accelerators, gang.cpus, gang.memory_gb) == (16, 32, 256.0)
    cpu = held("CPU", 4, 3, 4, 8.0)  # a CPU job's slots are its cores, counted in cpus
    assert (cpu.accelerator, cpu.accelerators, cpu.cpus, cpu.memory_gb) == ("CPU", 0, 12, 24.0)


def test_a_record_sums_what_it_held_over_its_seconds() -> None:
    half_hour = record()
    assert half_hour.seconds == 1800
    assert half_hour.accelerator_hours == 8.0
    assert half_hour.cpu_hours == 4.0
    assert half_hour.memory_gb_hours == 32.0


def test_a_record_refuses_an_unknown_reason_and_a_backwards_interval() -> None:
    with pytest.raises(InvalidSpec, match="reason"):
        record(reason="REFUSED")  # a refused attempt never ran
    with pytest.raises(InvalidSpec, match="cannot end"):
        record(interval_start=at(10), interval_end=at(5))
    assert record(interval_start=at(5), interval_end=at(5)).seconds == 0  # empty, and allowed
    assert {"SUCCEEDED", "FAILED", "CANCELLED", "LOST"} == FINAL_REASONS
    assert replace(record(), reason=CHECKPOINT).reason == CHECKPOINT


@pytest.mark.parametrize("state", [AttemptState.SUCCEEDED, AttemptState.FAILED, AttemptState.CANCELLED])
def test_a_final_interval_runs_from_the_last_checkpoint_to_the_end(state: AttemptState) -> None:
    assert final_interval(state, at(0), at(100), None, at(50)) == (at(0), at(100))
    assert final_interval(state, at(0), at(5000), at(3600), at(4000)) == (at(3600), at(5000))


def test_a_lost_attempt_ends_when_its_center_was_last_heard_from() -> None:
    declared = at(100)  # when the server gave up on it
    assert final_interval(AttemptState.LOST, at(0), declared, None, at(60)) == (at(0), at(60))
    # heard from before it started (the agent reported it running, then fell silent): nothing ran that we know of
    assert final_interval(AttemptState.LOST, at(10), declared, None, at(5)) == (at(10), at(10))
    # never before its last checkpoint, nor after it was declared lost
    assert final_interval(AttemptState.LOST, at(0), declared, at(70), at(60)) == (at(70), at(70))
    assert final_interval(AttemptState.LOST, at(0), declared, None, at(500)) == (at(0), declared)
    assert final_interval(AttemptState.LOST, at(0), declared, None, None) == (at(0), declared)


def test_an_end_before_the_start_makes_an_empty_final_interval() -> None:
    # another server process's clock a little behind the one that wrote the checkpoint
    assert final_interval(AttemptState.SUCCEEDED, at(0), at(3599), at(3600), None) == (at(3600), at(3600))


def test_a_checkpoint_comes_once_an_interval_has_passed_and_stops_at_the_last_sign_of_life() -> None:
    assert checkpoint_interval(at(0), None, at(3599), at(3599), HOUR) is None
    assert checkpoint_interval(at(0), None, at(3600), at(3600), HOUR) == (at(0), at(3600))
    assert checkpoint_interval(at(0), at(3600), at(7300), at(7290), HOUR) == (at(3600), at(7290))
    assert checkpoint_interval(at(0), at(3600), at(7300), None, HOUR) == (at(3600), at(7300))
    # silent since before the last checkpoint's end: nothing known to meter yet
    assert checkpoint_interval(at(0), at(3600), at(7300), at(3500), HOUR) is None


def principal(*roles: Role, organization: str = "acme") -> Principal:
    return Principal(
        name="alice",
        kind=PrincipalKind.USER,
        organization=organization,
        roles=frozenset(roles),
        scopes=FULL_SCOPES,
        token_prefix="AbCd1234",
    )


def test_whose_usage_each_role_reads() -> None:
    assert readable_usage(principal(Role.PLATFORM_ADMIN)) == EVERY_JOB
    for role in (Role.ORG_ADMIN, Role.MEMBER, Role.VIEWER, Role.AUDITOR):
        assert readable_usage(principal(role)) == JobReach(organization="acme")
    assert readable_usage(principal(Role.CENTER_OPERATOR)) == JobReach(centers_of="acme")
    assert readable_usage(principal(Role.CENTER_OPERATOR, Role.VIEWER)) == JobReach(
        organization="acme", centers_of="acme"
    )
