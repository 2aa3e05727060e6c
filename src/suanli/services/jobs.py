"""Use cases for jobs: submit (one or many), look up, list, cancel."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future

from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.errors import InvalidSpec, StaleVersion
from suanli.domain.job import Job
from suanli.domain.job_reach import EVERY_JOB, JobReach
from suanli.domain.job_status import JobStatus
from suanli.domain.jobs import JobSpec
from suanli.domain.tenants import DEFAULT_TENANT
from suanli.services.clock import Clock
from suanli.services.group_commit import GroupCommit
from suanli.services.ports import JobFilter, JobPage, NewJob, Store


class JobService:
    def __init__(
        self,
        store: Store,
        catalog: AcceleratorCatalog,
        clock: Clock,
        on_change: Callable[[], None],
        on_release: Callable[[], None] | None = None,
        why_unfit: Callable[[JobSpec], str] | None = None,
    ) -> None:
        self.store = store
        self._why_unfit = why_unfit  # why no registered pool could ever run a spec ("" if one could)
        self.catalog = catalog
        self.clock = clock
        self.on_change = on_change  # something for the scheduler to look at
        self.on_release = on_release or on_change  # ... and capacity was freed
        self._group: GroupCommit[NewJob, Job] = GroupCommit(lambda jobs: self.store.add_jobs(jobs, self.clock.now()))

    def submit(
        self,
        specs: Sequence[JobSpec],
        *,
        tenant_id: str = DEFAULT_TENANT,
        idempotency_keys: Sequence[str | None] | None = None,
        refuse_unfit: bool = False,
    ) -> list[Job]:
        """Validates every spec first, then stores all of them or none. With ``refuse_unfit`` a
        job that no registered pool could ever run is refused, with the reason."""
        keys = list(idempotency_keys) if idempotency_keys is not None else [None] * len(specs)
        if len(keys) != len(specs):
            raise InvalidSpec("give one idempotency key per job, or none")
        many = len(specs) > 1
        new_jobs = [
            self._prepare(spec, tenant_id, key, f"jobs[{i}]." if many else "", refuse_unfit)
            for i, (spec, key) in enumerate(zip(specs, keys, strict=True))
        ]
        jobs = self.store.add_jobs(new_jobs, self.clock.now())
        self.on_change()
        return jobs

    def submit_one(self, spec: JobSpec, *, tenant_id: str = DEFAULT_TENANT, idempotency_key: str | None = None) -> Job:
        """One job, written together with others submitted at the same moment (group commit)."""
        return self.submit_one_later(spec, tenant_id=tenant_id, idempotency_key=idempotency_key).result()

    def submit_one_later(
        self,
        spec: JobSpec,
        *,
        tenant_id: str = DEFAULT_TENANT,
        idempotency_key: str | None = None,
        refuse_unfit: bool = False,
    ) -> Future[Job]:
        """``submit_one`` for callers that must not block (an event loop): validation errors are
        raised at once; the future holds the stored job, or the error storing it raised."""
        stored = self._group.enqueue(self._prepare(spec, tenant_id, idempotency_key, "", refuse_unfit))
        stored.add_done_callback(lambda done: done.exception() is None and self.on_change())
        return stored

    def why_unfit(self, spec: JobSpec) -> str:
        """Why no registered pool could ever run this (canonical) spec; "" when one could."""
        return self._why_unfit(spec) if self._why_unfit is not None else ""

    def _prepare(self, spec: JobSpec, tenant_id: str, key: str | None, where: str, refuse_unfit: bool) -> NewJob:
        try:
            canonical = spec.canonical(self.catalog)
        except InvalidSpec as error:
            raise InvalidSpec(error.message, field=f"{where}{error.field}" if error.field else None) from None
        if refuse_unfit and (reason := self.why_unfit(canonical)):
            raise InvalidSpec(
                f"no registered pool could ever run this job: {reason}. To queue it anyway for a center "
                "that will join later, submit with if_unfit=queue (suanli submit --allow-unfit)",
                field=f"{where}resources",
            )
        return NewJob(tenant_id, canonical, key)

    def get(self, job_id: int, reach: JobReach = EVERY_JOB) -> Job:
        """The job, if it lies within ``reach``; NotFound otherwise, as if it did not exist."""
        return self.store.get_job(job_id, reach)

    def list(self, filter: JobFilter, *, after: int | None = None, limit: int = 100) -> JobPage:
        return self.store.list_jobs(filter, after=after, limit=limit)

    def cancel(self, job_id: int, reach: JobReach = EVERY_JOB, reason: str = "cancelled by the user") -> Job:
        for _ in range(5):
            job = self.store.get_job(job_id, reach)
            if job.status is JobStatus.CANCELLED:
                return job  # cancelled already (a retry, or two people at once): the wish holds
            cancelled = job.transitioned(JobStatus.CANCELLED, self.clock.now(), message=reason)
            try:
                saved = self.store.save_job(cancelled, expected_version=job.version)
            except StaleVersion:
                continue  # the scheduler moved it meanwhile; decide again on the fresh row
            (self.on_release if job.status.holds_capacity else self.on_change)()
            return saved
        raise StaleVersion(f"job {job_id} kept changing while it was being cancelled; try again")
