from datetime import UTC, datetime

import pytest

from suanli.domain.errors import IllegalTransition
from suanli.domain.job import Job, Placement
from suanli.domain.job_status import JobStatus, after_interruption, check_transition
from tests.builders import make_job

NOW = datetime(2026, 11, 28, tzinfo=UTC)
PLACEMENT = Placement(
    center="qd", pool="a100", accelerator="A100-80G", accelerators_per_node=8, node_indices=(0,), price_per_hour=80
)


def new_job(max_retries: int = 0) -> Job:
    spec = make_job().gpus("A100-80G:8").spec().model_copy(update={"max_retries": max_retries})
    return Job(id=1, tenant_id="default", spec=spec, submitted_at=NOW, updated_at=NOW)


def test_happy_path_counts_one_attempt() -> None:
    job = new_job()
    job = job.transitioned(JobStatus.SCHEDULED, NOW, placement=PLACEMENT)
    job = job.transitioned(JobStatus.RUNNING, NOW)
    job = job.transitioned(JobStatus.SUCCEEDED, NOW)
    assert job.status is JobStatus.SUCCEEDED
    assert job.attempts == 1
    assert job.placement == PLACEMENT


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (JobStatus.PENDING, JobStatus.RUNNING),
        (JobStatus.PENDING, JobStatus.SUCCEEDED),
        (JobStatus.SUCCEEDED, JobStatus.PENDING),
        (JobStatus.CANCELLED, JobStatus.CANCELLED),
        (JobStatus.FAILED, JobStatus.RUNNING),
        (JobStatus.RUNNING, JobStatus.SCHEDULED),
    ],
)
def test_illegal_transitions_raise(current: JobStatus, target: JobStatus) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(current, target)


def test_terminal_states_have_no_way_out() -> None:
    for terminal in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
        for target in JobStatus:
            with pytest.raises(IllegalTransition, match="already"):
                check_transition(terminal, target)


@pytest.mark.parametrize("interruption", [JobStatus.LOST, JobStatus.PREEMPTED])
def test_interrupted_job_requeues_only_while_retries_remain(interruption: JobStatus) -> None:
    job = new_job(max_retries=1)
    job = job.transitioned(JobStatus.SCHEDULED, NOW, placement=PLACEMENT).transitioned(JobStatus.RUNNING, NOW)
    job = job.transitioned(interruption, NOW)
    assert job.placement is None, "an interrupted job gives its placement back"
    job = job.transitioned(JobStatus.PENDING, NOW)
    job = job.transitioned(JobStatus.SCHEDULED, NOW, placement=PLACEMENT).transitioned(interruption, NOW)
    assert job.attempts == 2
    assert after_interruption(job.attempts, job.spec.max_retries) is JobStatus.FAILED
    with pytest.raises(IllegalTransition, match="retr"):
        job.transitioned(JobStatus.PENDING, NOW)
    assert job.transitioned(JobStatus.FAILED, NOW).status is JobStatus.FAILED


def test_refused_assignment_returns_to_queue_without_placement() -> None:
    job = new_job().transitioned(JobStatus.SCHEDULED, NOW, placement=PLACEMENT)
    back = job.transitioned(JobStatus.PENDING, NOW, message="center refused: capacity changed")
    assert back.status is JobStatus.PENDING
    assert back.placement is None
    assert back.message == "center refused: capacity changed"
