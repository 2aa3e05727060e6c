"""/api/v1/jobs: submit one or many, list with filters and cursors, show, cancel, explain."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.responses import Response

from suanli.adapters.api.auth import Asker
from suanli.adapters.api.bulk import BulkGate, count_jobs
from suanli.adapters.api.responses import json_body_doc, json_response, problem_docs, require_json
from suanli.domain.errors import InvalidSpec
from suanli.domain.job import Job
from suanli.domain.job_reach import owned_jobs, readable_jobs
from suanli.domain.job_status import JobStatus
from suanli.domain.jobs import JobSpec
from suanli.domain.limits import (
    MAX_ID,
    MAX_LABEL_KEY_CHARS,
    MAX_LABEL_VALUE_CHARS,
    MAX_NAME_CHARS,
    MAX_OFFSET,
    NO_NUL_PATTERN,
)
from suanli.protocol.agent import AttemptListOut, AttemptOut
from suanli.protocol.rest import (
    IDEMPOTENCY_KEY_MAX,
    ExplainOut,
    JobBatchIn,
    JobListOut,
    JobOut,
    JobPageOut,
)
from suanli.services.agents import AgentService
from suanli.services.jobs import JobService
from suanli.services.ports import JobFilter
from suanli.services.scheduling import SchedulingService
from suanli.services.waiting import WaitingReasons

MAX_LOG_READ = 1024 * 1024  # bytes of log in one answer
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="the job's id")]


class JobIdConvertor(StringConvertor):
    """``{job_id}`` in a path takes any segment but ``batch``: ``GET /jobs/batch`` is then the 405
    of the batch route (POST only), not a job id that fails validation."""

    regex = "(?!batch(?:/|$))[^/]+"


register_url_convertor("suanli_job_id", JobIdConvertor())
JOB = "{job_id:suanli_job_id}"


def _word_pattern(word: str) -> str:
    return "".join(f"[{c.lower()}{c}]" if c.isalpha() else c for c in word)


_STATUS = "|".join(_word_pattern(s.value) for s in JobStatus)
# What parse_statuses takes: statuses in any case, separated by commas (with spaces or tabs).
_PIECE = rf"[ \t]*(?:{_STATUS})?[ \t]*"
STATUS_PATTERN = rf"^{_PIECE}(?:,{_PIECE})*$"
LABEL_PATTERN = rf"^[^=\x00]{{1,{MAX_LABEL_KEY_CHARS}}}=[^\x00]{{0,{MAX_LABEL_VALUE_CHARS}}}$"
CURSOR_PATTERN = r"^[0-9]{0,19}$"


class BatchTooLarge(InvalidSpec):
    """The batch is well-formed but longer than the server accepts."""

    http_status = 413
    title = "Too many jobs in one request"


def parse_statuses(values: list[str]) -> frozenset[JobStatus]:
    statuses = set()
    for value in values:
        for word in value.split(","):
            word = word.strip(" \t").upper()
            if not word:
                continue
            try:
                statuses.add(JobStatus(word))
            except ValueError:
                known = ", ".join(s.value for s in JobStatus)
                raise InvalidSpec(f"unknown status {word!r}; known: {known}", field="status") from None
    return frozenset(statuses)


def parse_label(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    key, sep, label_value = value.partition("=")
    if not sep or not key:
        raise InvalidSpec(f"{value!r} is not KEY=VALUE, for example team=vision", field="label")
    if len(key) > MAX_LABEL_KEY_CHARS or len(label_value) > MAX_LABEL_VALUE_CHARS:
        raise InvalidSpec(
            f"a label key has at most {MAX_LABEL_KEY_CHARS} characters and a value {MAX_LABEL_VALUE_CHARS}; "
            "no job has a longer one",
            field="label",
        )
    return key, label_value


def parse_cursor(value: str | None) -> int | None:
    """The cursor is opaque to clients; today it is the id the next page starts below. One past
    the largest id is as good as that id: no job lies beyond either."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 19:
        raise InvalidSpec(f"{value!r} is not a cursor; pass next_cursor from the previous page", field="cursor")
    return min(int(value), MAX_ID)


def submitted_at(spec: JobSpec, now: datetime, where: str = "") -> None:
    """Refuses a spec that can never run from ``now`` on (a deadline already past)."""
    try:
        spec.check_submitted_at(now)
    except InvalidSpec as error:
        raise InvalidSpec(error.message, field=f"{where}{error.field}") from None


def jobs_router(
    jobs: JobService,
    scheduling: SchedulingService,
    waiting: WaitingReasons,
    agents: AgentService,
    max_jobs_per_request: int,
) -> APIRouter:
    router = APIRouter(prefix="/jobs", tags=["jobs"])
    add_submit_routes(router, jobs, max_jobs_per_request)
    add_list_route(router, jobs, waiting)
    add_job_routes(router, jobs, scheduling, waiting)
    add_attempt_routes(router, jobs, agents)
    return router


IfUnfit = Annotated[
    Literal["queue", "refuse"],
    Query(
        description=(
            "a job that no registered pool could ever run: queue it anyway (for a center that will join "
            "later; the answer's `warning` says why it cannot run now) or refuse it with the reason (422)"
        )
    ),
]


def out_with_warning(jobs: JobService, job: Job, if_unfit: str) -> JobOut:
    return JobOut.from_job(job, warning=jobs.why_unfit(job.spec) if if_unfit == "queue" else "")


def store_batch(jobs: JobService, max_batch: int, body: bytes, if_unfit: str, organization: str) -> Response:
    """Parses, checks and stores a batch (in a worker thread: see ``submit_batch``)."""
    count = count_jobs(body)  # before any job object exists: a batch's memory is its jobs
    if count is not None and count > max_batch:
        raise BatchTooLarge(
            f"the batch holds {count} jobs; the server accepts at most {max_batch} per request "
            "(setting max_jobs_per_request); split it",
            field="jobs",
        )
    items = JobBatchIn.model_validate_json(body).jobs
    now = jobs.clock.now()
    specs: list[JobSpec] = []
    keys: list[str | None] = []
    for i, item in enumerate(items):
        submitted_at(item, now, f"jobs[{i}].")
        specs.append(item.to_spec())
        keys.append(item.idempotency_key)
    del items
    saved = jobs.submit(specs, tenant_id=organization, idempotency_keys=keys, refuse_unfit=if_unfit == "refuse")
    del specs
    return json_response(JobListOut.model_construct(jobs=[out_with_warning(jobs, j, if_unfit) for j in saved]), 201)


def add_submit_routes(router: APIRouter, jobs: JobService, max_batch: int) -> None:
    """Submit one job, or a batch of them."""

    @router.post(
        "",
        status_code=201,
        response_model=JobOut,
        responses=problem_docs(400, 409, 413, 415, 422),
        summary="Submit a job",
    )
    async def submit_job(
        spec: JobSpec,
        asker: Asker,
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=1,
                max_length=IDEMPOTENCY_KEY_MAX,
                pattern=NO_NUL_PATTERN,
                description="a retry with the same key returns the job the first request made",
            ),
        ] = None,
        if_unfit: IfUnfit = "queue",
    ) -> Response:
        # Async on purpose: the request waits for the group-commit writer without holding a
        # worker thread, which saves a thread hand-off per request (about a third of its cost).
        submitted_at(spec, jobs.clock.now())
        job = await asyncio.wrap_future(
            jobs.submit_one_later(
                spec, tenant_id=asker.organization, idempotency_key=idempotency_key, refuse_unfit=if_unfit == "refuse"
            )
        )
        return json_response(out_with_warning(jobs, job, if_unfit), 201)

    @router.post(
        "/batch",
        status_code=201,
        response_model=JobListOut,
        responses=problem_docs(400, 409, 413, 415, 422, 503),
        summary="Submit many jobs: all are stored, or none",
        openapi_extra=json_body_doc(JobBatchIn),
    )
    async def submit_batch(request: Request, asker: Asker, if_unfit: IfUnfit = "queue") -> Response:
        # The body is read only once the batch has its turn (bulk.BulkGate), and parsed and
        # validated in a worker thread, not by FastAPI on the event loop: a batch of tens of
        # thousands of jobs would otherwise stall every other request.
        require_json(request)
        gate: BulkGate = request.app.state.bulk_gate
        async with gate.turn():
            body = await request.body()
            return await run_in_threadpool(store_batch, jobs, max_batch, body, if_unfit, asker.organization)


def add_list_route(router: APIRouter, jobs: JobService, waiting: WaitingReasons) -> None:
    """List with filters, newest first, a page at a time."""

    @router.get("", response_model=JobPageOut, responses=problem_docs(422), summary="List jobs, newest first")
    def list_jobs(
        asker: Asker,
        # Each check is the parser's own (with its message); the schema states it as a pattern.
        status: Annotated[
            list[str],
            Query(
                description="PENDING, RUNNING, ...: repeat the parameter or separate with commas",
                json_schema_extra={"items": {"type": "string", "pattern": STATUS_PATTERN}},
            ),
        ] = [],  # noqa: B006 (FastAPI copies defaults)
        center: Annotated[
            str | None, Query(max_length=63, pattern=NO_NUL_PATTERN, description="jobs placed on this center")
        ] = None,
        name: Annotated[
            str | None,
            Query(max_length=MAX_NAME_CHARS, pattern=NO_NUL_PATTERN, description="jobs whose name starts with this"),
        ] = None,
        label: Annotated[
            str | None, Query(description="KEY=VALUE", json_schema_extra={"pattern": LABEL_PATTERN})
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[
            str | None,
            Query(description="next_cursor from the previous page", json_schema_extra={"pattern": CURSOR_PATTERN}),
        ] = None,
    ) -> Response:
        filter = JobFilter(
            reach=readable_jobs(asker),
            statuses=parse_statuses(status),
            center=center or None,
            name_prefix=name or None,
            label=parse_label(label),
        )
        page = jobs.list(filter, after=parse_cursor(cursor), limit=limit)
        reasons = waiting.of(page.jobs)
        out = JobPageOut.model_construct(
            jobs=[JobOut.from_job(j, waiting_reason=reasons.get(j.id, "")) for j in page.jobs],
            next_cursor=str(page.next_cursor) if page.next_cursor is not None else None,
        )
        return json_response(out)


def add_job_routes(router: APIRouter, jobs: JobService, scheduling: SchedulingService, waiting: WaitingReasons) -> None:
    """One job: show, cancel, explain."""

    @router.get(f"/{JOB}", response_model=JobOut, responses=problem_docs(404, 422), summary="Show a job")
    def get_job(job_id: JobId, asker: Asker) -> Response:
        job = jobs.get(job_id, readable_jobs(asker))
        return json_response(JobOut.from_job(job, waiting_reason=waiting.of([job]).get(job.id, "")))

    @router.post(f"/{JOB}/cancel", response_model=JobOut, responses=problem_docs(404, 409, 422), summary="Cancel a job")
    def cancel_job(job_id: JobId, asker: Asker) -> Response:
        # Only its own organization's: a center operator reads the jobs on its centers, never cancels them.
        return json_response(JobOut.from_job(jobs.cancel(job_id, owned_jobs(asker))))

    @router.get(
        f"/{JOB}/explain",
        response_model=ExplainOut,
        responses=problem_docs(404, 422),
        summary="Why a job is where it is (or why it waits)",
    )
    def explain_job(job_id: JobId, asker: Asker) -> Response:
        job = jobs.get(job_id, readable_jobs(asker))
        reasons = scheduling.explain(job)
        if job.status is JobStatus.SCHEDULED and (waits := waiting.of([job]).get(job.id)):
            reasons.append(waits)  # placed on a center whose agent never connected, or fell silent
        return json_response(ExplainOut.model_construct(job_id=job.id, status=job.status, reasons=reasons))


def add_attempt_routes(router: APIRouter, jobs: JobService, agents: AgentService) -> None:
    """One job's attempts and their output."""

    @router.get(
        f"/{JOB}/attempts",
        response_model=AttemptListOut,
        responses=problem_docs(404, 422),
        summary="The job's attempts: where each ran, when, and how it ended",
    )
    def list_attempts(job_id: JobId, asker: Asker) -> Response:
        jobs.get(job_id, readable_jobs(asker))  # 404 for a job out of its reach
        attempts = [AttemptOut.from_attempt(a) for a in agents.attempts(job_id)]
        return json_response(AttemptListOut(attempts=attempts))

    @router.get(
        f"/{JOB}/logs",
        response_class=Response,
        responses={
            **problem_docs(404, 422),
            200: {"content": {"text/plain": {}, "application/octet-stream": {}}, "description": "log bytes"},
        },
        summary="An attempt's output from an offset; follow it with X-Suanli-Next-Offset",
    )
    def read_logs(
        job_id: JobId,
        asker: Asker,
        accept: Annotated[str | None, Header(include_in_schema=False)] = None,
        attempt: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="default: the latest")] = None,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_LOG_READ)] = MAX_LOG_READ,
    ) -> Response:
        # Its own organization's only: a center operator's view of the jobs on its centers has no output.
        jobs.get(job_id, owned_jobs(asker))  # 404 for a job out of its reach
        read = agents.read_log(job_id, attempt, offset, limit)
        headers = {
            "X-Suanli-Attempt": str(read.attempt),
            "X-Suanli-Next-Offset": str(read.next_offset),
            "X-Suanli-Attempt-Done": "true" if read.done else "false",
        }
        if accept is not None and "application/octet-stream" in accept:
            return Response(read.data, media_type="application/octet-stream", headers=headers)
        text = read.data.decode("utf-8", errors="replace")
        return Response(text, media_type="text/plain; charset=utf-8", headers=headers)
