"""Use cases of the agent protocol: tokens, hello and heartbeats, assignments, attempt reports,
and declaring silent centers OFFLINE.

Every report is fenced by its attempt number: only a job's current attempt, on the center that
holds it, may move the job. Job and attempt are written together with optimistic concurrency.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from suanli.domain.attempts import JOB_STATUS_FOR_REPORT, Attempt, AttemptState, outcome_message
from suanli.domain.centers import CenterState, Pool
from suanli.domain.errors import Conflict, Forbidden, NotFound, StaleVersion
from suanli.domain.job import Job
from suanli.domain.job_status import JobStatus, after_interruption
from suanli.services.centers import CenterService
from suanli.services.clock import Clock
from suanli.services.ports import AgentStore, LiveAttempt, Store

TOKEN_PREFIX = "sl_"
_RETRIES = 5

Key = tuple[int, int]  # (job id, attempt number)


class StaleAttempt(Conflict):
    """A report about an attempt that is no longer its job's current one (fencing)."""

    title = "Stale attempt"


class LogOffsetMismatch(Conflict):
    """A log chunk that does not start where the stored log ends (a gap or an overlap)."""

    title = "Log offset mismatch"

    def __init__(self, job_id: int, number: int, offset: int, expected: int) -> None:
        super().__init__(
            f"attempt {number} of job {job_id} has {expected} bytes of log stored; this chunk starts at "
            f"{offset}: send the log from offset {expected}",
            field="offset",
        )
        self.expected_offset = expected
        self.headers = {"X-Suanli-Expected-Offset": str(expected)}


@dataclass(frozen=True, slots=True)
class LogRead:
    attempt: int  # 0: the job has no attempt yet
    data: bytes
    next_offset: int
    done: bool  # the attempt ended and every byte up to next_offset was read: no more will come


@dataclass(frozen=True, slots=True)
class Poll:
    assignments: list[tuple[Attempt, Job]]
    cancel: list[Key]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AgentService:
    def __init__(
        self,
        store: Store,
        agents: AgentStore,
        centers: CenterService,
        clock: Clock,
        *,
        heartbeat_s: float,
        offline_after_s: float,
        on_release: Callable[[], None],
    ) -> None:
        self.store = store
        self.agents = agents
        self.centers = centers
        self.clock = clock
        self.heartbeat_s = heartbeat_s
        self.offline_after_s = offline_after_s
        self.on_release = on_release  # a job left its placement: capacity is free
        # Heartbeats that arrived while no server ran were never recorded: after a (re)start,
        # give every agent a full offline period to say hello before judging it silent.
        self._judging_from = clock.now() + timedelta(seconds=offline_after_s)

    # tokens ---------------------------------------------------------------------------------------

    def mint_token(self, center: str) -> str:
        """A new token for ``center``; only its hash is stored, so this is the one time it is seen."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.agents.add_center_token(center, hash_token(token), self.clock.now())
        return token

    def rotate_token(self, center: str) -> tuple[str, int]:
        """A new token for ``center``, and every older one revoked (how many). The new one is
        stored first, so an interruption leaves the old ones working rather than none."""
        token = self.mint_token(center)
        return token, self.agents.revoke_center_tokens(center, keep=hash_token(token))

    def revoke_tokens(self, center: str) -> int:
        """Revokes every token of ``center`` (how many): its agent is refused from its next request."""
        return self.agents.revoke_center_tokens(center)

    def center_for(self, token: str) -> str | None:
        return self.agents.center_for_token(hash_token(token))

    # hello and heartbeats -------------------------------------------------------------------------

    def hello(self, center: str, pools: Sequence[Pool], running: Iterable[Key], problem: str = "") -> list[Key]:
        """The agent (re)connects: its pools replace the registered ones, an OFFLINE center comes
        back, and attempts it reported started but no longer runs are lost (their jobs queue
        again). Returns the reported attempts it must kill.

        A delivered attempt it never reported started and does not know is handed out again
        instead: the poll answer that carried it was lost (a proxy's 502, a server killed while
        answering), so nothing ran. That is safe after an agent restart too, because every
        executor adopts what a previous agent of its center started (``recover``, or a start
        that finds the backend's job under the attempt's key), and starts a key only once."""
        self.centers.set_pools(center, pools)
        self._seen(center, problem)
        reported = set(running)
        lost = False
        for live in self.agents.live_attempts(center):
            if not live.delivered or live.key in reported:
                continue
            if live.unstarted_since is not None and live.current:
                self.agents.redeliver(live.job_id, live.number, live.unstarted_since)
            else:
                lost |= self._lose(live, f"the agent of center {center!r} restarted without attempt {live.number}")
        if lost:
            self.on_release()
        return self.kill_list(center, reported)

    def heartbeat(self, center: str, running: Iterable[Key], problem: str = "") -> list[Key]:
        """The agent is alive and runs ``running``. An assignment it was handed a heartbeat period
        ago and still does not know never reached it (the poll's answer was lost on the way):
        it is handed out again, under the same attempt number. That is safe because an executor
        starts a key it knows only once, and a restarted agent is handled by ``hello``.

        ``problem`` is what the agent says is wrong with its backend: while it is not empty the
        center takes no new work; its running attempts are left alone (the agent keeps them)."""
        self._seen(center, problem)
        reported = set(running)
        unheard_since = self.clock.now() - timedelta(seconds=self.heartbeat_s)
        live = self.agents.live_attempts(center)
        for attempt in live:
            since = attempt.unstarted_since
            if attempt.current and since is not None and since < unheard_since and attempt.key not in reported:
                self.agents.redeliver(attempt.job_id, attempt.number, since)
        return self.kill_list(center, reported, live)

    def _seen(self, center: str, problem: str) -> None:
        self.agents.touch_center(center, self.clock.now())
        known = self.centers.get(center)
        if known.state is CenterState.OFFLINE:
            self.centers.set_state(center, CenterState.ONLINE)
        if known.problem != problem:
            self.centers.set_problem(center, problem)

    def kill_list(self, center: str, reported: set[Key], live: list[LiveAttempt] | None = None) -> list[Key]:
        """Reported attempts that are not this center's current attempt of a live job, and this
        center's live attempts whose job moved on (cancelled, say)."""
        if live is None:
            live = self.agents.live_attempts(center)
        current = {a.key for a in live if a.current}
        stale = {a.key for a in live if not a.current and a.delivered}
        return sorted((reported - current) | stale)

    # assignments ----------------------------------------------------------------------------------

    def poll(self, center: str) -> Poll:
        """New assignments for the center (each handed out once) and what it should cancel."""
        assignments: list[tuple[Attempt, Job]] = []
        if self.agents.has_undelivered(center):
            assignments = self.agents.claim_assignments(center, self.clock.now())
        cancel = [a.key for a in self.agents.live_attempts(center) if not a.current and a.delivered]
        return Poll(assignments, cancel)

    # reports --------------------------------------------------------------------------------------

    def report(
        self,
        center: str,
        job_id: int,
        number: int,
        state: AttemptState,
        exit_code: int | None = None,
        message: str = "",
    ) -> Attempt:
        """Moves the attempt and its job. Raises NotFound, Forbidden, StaleAttempt, IllegalTransition."""
        for _ in range(_RETRIES):
            attempt, job = self._fenced(center, job_id, number)
            if attempt.state is state:
                return attempt  # the same report again (a retry): nothing to do
            now = self.clock.now()
            moved = attempt.transitioned(state, now, exit_code=exit_code, message=message)
            target = JOB_STATUS_FOR_REPORT[state]
            new_job: Job | None = None
            if job.status.holds_capacity and job.status is not target:
                start = (
                    job.transitioned(JobStatus.RUNNING, now)
                    if (job.status is JobStatus.SCHEDULED and target is JobStatus.SUCCEEDED)
                    else job
                )
                new_job = start.transitioned(target, now, message=outcome_message(state, exit_code, message))
            try:
                self.agents.save_attempt(moved, attempt.state, new_job, job.version)
            except StaleVersion:
                continue  # the user or the scheduler moved the job meanwhile: decide again
            if new_job is not None and not new_job.status.holds_capacity:
                self.on_release()
            return moved
        raise StaleVersion(f"job {job_id} kept changing while its report was applied; send it again")

    def _fenced(self, center: str, job_id: int, number: int) -> tuple[Attempt, Job]:
        """The attempt and its job, if ``center`` may still speak for this attempt (fencing):
        it must be the job's current attempt, on this center, and not declared LOST."""
        attempt = self.agents.get_attempt(job_id, number)
        if attempt is None:
            raise NotFound(f"job {job_id} has no attempt {number}")
        if attempt.center != center:
            raise Forbidden(f"attempt {number} of job {job_id} was not assigned to center {center!r}")
        job = self.store.get_job(job_id)
        if number != job.attempts:
            raise StaleAttempt(f"stale attempt: job {job_id} is on attempt {job.attempts} now; stop attempt {number}")
        if attempt.state is AttemptState.LOST:
            raise StaleAttempt(
                f"stale attempt: attempt {number} of job {job_id} was declared LOST ({attempt.message}); stop it"
            )
        return attempt, job

    # logs -----------------------------------------------------------------------------------------

    def append_log(self, center: str, job_id: int, number: int, offset: int, data: bytes) -> int:
        """Stores a chunk of the attempt's log at ``offset``; returns the stored length after it.

        Fenced like a report. The chunk must start at the stored length; a repeat of a chunk already
        stored changes nothing. Raises NotFound, Forbidden, StaleAttempt, LogOffsetMismatch."""
        self._fenced(center, job_id, number)
        stored = self.agents.append_log(job_id, number, offset, data)
        if offset == stored:
            return stored + len(data)
        if offset + len(data) <= stored:
            return stored  # a chunk already stored, sent again: nothing to do
        raise LogOffsetMismatch(job_id, number, offset, stored)

    def read_log(self, job_id: int, number: int | None, offset: int, limit: int) -> LogRead:
        """Up to ``limit`` bytes of an attempt's log (default: the latest attempt) from ``offset``.
        The caller has checked that the job exists. Raises NotFound for an unknown attempt."""
        job = self.store.get_job(job_id)
        if number is None:
            number = job.attempts
            if number == 0:
                return LogRead(0, b"", offset, job.status.is_terminal)
        # The state is read before the bytes: an agent ships the whole log before it reports the end,
        # so an attempt seen as ended has all its bytes stored by then.
        attempt = self.agents.get_attempt(job_id, number)
        if attempt is None:
            raise NotFound(f"job {job_id} has no attempt {number}")
        done = attempt.state.is_final or number != job.attempts
        data, stored = self.agents.read_log(job_id, number, offset, limit)
        return LogRead(number, data, offset + len(data), done and offset + len(data) >= stored)

    def attempts(self, job_id: int) -> list[Attempt]:
        return self.agents.list_attempts(job_id)

    # silent centers -------------------------------------------------------------------------------

    def expire_silent_centers(self) -> bool:
        """Centers whose agent has been silent too long go OFFLINE and their attempts are LOST.
        Centers that never had an agent are left alone. True if anything changed."""
        now = self.clock.now()
        if now < self._judging_from:
            return False
        cutoff = now - timedelta(seconds=self.offline_after_s)
        changed = False
        for name in self.agents.silent_centers(cutoff):
            try:
                self.centers.set_state(name, CenterState.OFFLINE)
            except (StaleVersion, NotFound):
                continue  # changed or deleted meanwhile: the next cycle looks again
            changed = True
            reason = f"center {name!r} was not heard from for {self.offline_after_s:g} s and went OFFLINE"
            for live in self.agents.live_attempts(name):
                self._lose(live, reason)
        if changed:
            self.on_release()
        return changed

    def _lose(self, live: LiveAttempt, reason: str) -> bool:
        """The attempt is LOST; if it was its job's current one the job queues again while retries
        remain, else FAILED. True if a job moved."""
        for _ in range(_RETRIES):
            attempt = self.agents.get_attempt(live.job_id, live.number)
            if attempt is None or not attempt.state.is_live:
                return False
            job = self.store.get_job(live.job_id)
            now = self.clock.now()
            lost = attempt.transitioned(AttemptState.LOST, now, message=reason)
            new_job: Job | None = None
            if job.status.holds_capacity and job.attempts == attempt.number:
                interrupted = job.transitioned(JobStatus.LOST, now)
                target = after_interruption(job.attempts, job.spec.max_retries)
                if target is JobStatus.PENDING:
                    text = f"{reason}; attempt {attempt.number} was lost, the job waits to run again"
                else:
                    text = (
                        f"{reason}; attempt {attempt.number} was lost and no retries are left "
                        f"(max_retries {job.spec.max_retries})"
                    )
                new_job = interrupted.transitioned(target, now, message=text)
            try:
                self.agents.save_attempt(lost, attempt.state, new_job, job.version)
            except StaleVersion:
                continue
            return new_job is not None
        return False
