"""`suanli submit`, `suanli jobs` and `suanli job ...`: submit work and follow it."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.markup import escape

from suanli.adapters.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_SERVER,
    OutputOption,
    error,
    fields_table,
    jobs_table,
    jsonable,
    note,
    out,
    print_json,
    print_list,
    show_list,
    state,
    styled,
    when,
)
from suanli.adapters.cli.secret_env import OPTION, secret_values, with_secrets
from suanli.client import (
    AttemptOut,
    JobOut,
    SuanliApiError,
    SuanliClient,
    UsageGroupOut,
    UsageSummaryOut,
    load_job_specs,
)
from suanli.domain.errors import InvalidSpec
from suanli.domain.jobs import JobSpec
from suanli.domain.usage import UsageGrouping
from suanli.settings import load_settings

job_app = typer.Typer(
    name="job",
    help="Inspect one job: show, explain, cancel.\n\nExample: suanli job explain 1",
    no_args_is_help=True,
)


def _dry_run(file: Path, specs: list[JobSpec], as_json: bool) -> None:
    catalog = load_settings().catalog()
    canonical: list[JobSpec] = []
    problems: list[str] = []
    for index, spec in enumerate(specs, start=1):
        try:
            canonical.append(spec.canonical(catalog))
        except InvalidSpec as e:
            where = f"{e.field}: " if e.field else ""
            problems.append(f"job {index} {spec.name!r}: {where}{e.message}")
    if problems:
        raise error(f"{file}: {len(problems)} invalid job(s)", problems, code=EXIT_BAD_INPUT)
    dumped = [spec.redacted().model_dump(mode="json") for spec in canonical]  # secrets stay off the screen
    if as_json:
        print_json(dumped)
    else:
        out.print(escape(yaml.safe_dump_all(dumped, sort_keys=False, allow_unicode=True)), end="")
    note(f"{len(canonical)} job(s) valid; nothing was submitted (--dry-run)")


def submit(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="YAML: one job, a list, `jobs:` holding a list, or several documents")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate here and print the canonical specs")] = False,
    allow_unfit: Annotated[
        bool,
        typer.Option(
            "--allow-unfit",
            help="queue a job that no registered pool could ever run (for a center that will join later)",
        ),
    ] = False,
    secret_env: Annotated[
        list[str] | None,
        typer.Option(
            OPTION,
            metavar="NAME[=VALUE]",
            help=(
                "a secret environment variable for every job of the file (repeat for more): NAME takes its "
                "value from this shell's environment, NAME=VALUE gives it here (ps and shell history see it). "
                "The jobs get it; the API, the CLI and the logs show '***'"
            ),
        ),
    ] = None,
    output: OutputOption = None,
) -> None:
    """Submit the jobs in a YAML file: all of them are accepted, or none.

    A job that no registered center could ever run (too big for every pool, or constraints none
    meets) is refused with the reason, unless --allow-unfit queues it for a center still to come.

    Examples: suanli submit examples/finetune-single-gpu.yaml

    suanli submit examples/many-jobs.yaml --dry-run   (checks the file without a server)

    HF_TOKEN=... suanli submit finetune.yaml --secret-env HF_TOKEN   (a secret the API never shows)
    """
    current = state(ctx, output)
    secrets = secret_values(secret_env or [], os.environ)
    specs = [with_secrets(_workdir_from_here(spec), secrets) for spec in load_job_specs(file)]
    if dry_run:
        _dry_run(file, specs, current.json)
        return
    client = current.client()
    if len(specs) == 1:
        jobs = [client.submit(specs[0], allow_unfit=allow_unfit)]
    else:
        jobs = client.submit_many(specs, allow_unfit=allow_unfit)
    for job in jobs:
        if job.warning:
            note(f"job {job.id} {job.name!r} waits for a center that can run it: {job.warning}")
    if current.json:
        print_list(jobs)
    else:
        out.print(jobs_table(jobs))
        note(f"submitted {len(jobs)} job(s); follow them with `suanli jobs` or `suanli job explain ID`")


def _workdir_from_here(spec: JobSpec) -> JobSpec:
    """A relative ``workdir`` is taken from where `suanli submit` runs, as Slurm's sbatch does,
    not from wherever the agent happens to run (a center sharing this filesystem finds it)."""
    if spec.workdir is None or Path(spec.workdir).is_absolute():
        return spec
    return spec.model_copy(update={"workdir": str((Path.cwd() / spec.workdir).resolve())})


def list_jobs(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None, typer.Option("--status", "-s", help="PENDING, RUNNING, ...: repeat or separate with commas")
    ] = None,
    center: Annotated[str | None, typer.Option(help="jobs placed on this center")] = None,
    name: Annotated[str | None, typer.Option(help="jobs whose name starts with this")] = None,
    label: Annotated[str | None, typer.Option(help="KEY=VALUE")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="jobs per page")] = 100,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="every matching job, page after page")] = False,
    output: OutputOption = None,
) -> None:
    """List jobs, newest first.

    Examples: suanli jobs --status PENDING,SCHEDULED --center qd-ai-1

    suanli jobs --all -o json
    """
    current = state(ctx, output)
    client = current.client()
    statuses = status or None
    next_cursor: str | None = None
    if all_pages:
        jobs = list(client.iter_jobs(status=statuses, center=center, name=name, label=label, page_size=limit))
    else:
        page = client.list_jobs(status=statuses, center=center, name=name, label=label, limit=limit, cursor=cursor)
        jobs, next_cursor = page.jobs, page.next_cursor
    show_list(
        current,
        jobs,
        jobs_table,
        empty="no jobs match",
        next_cursor=next_cursor,
        more="more jobs: add --cursor {cursor}, or --all",
    )


def _show(job: JobOut, metered: UsageGroupOut | None = None) -> None:
    spec = job.spec
    command = spec.command if isinstance(spec.command, str) else shlex.join(spec.command)
    rows = [
        ("id", str(job.id)),
        ("name", escape(job.name)),
        ("status", styled(job.status)),
        ("priority", str(job.priority)),
        ("attempts", str(job.attempts)),
        ("tenant", escape(job.tenant_id)),
        ("submitted", when(job.submitted_at)),
        ("updated", when(job.updated_at)),
        ("command", escape(command)),
        ("asks for", escape(f"{spec.nodes} node(s) x " + " or ".join(str(a) for a in spec.alternatives()))),
    ]
    if job.placement is not None:
        p = job.placement
        rows.append(("placed on", escape(f"{p.center}/{p.pool} nodes {list(p.node_indices)} ({p.accelerator})")))
        rows.append(("price", f"{p.price_per_hour:g} CNY/hour"))
    if metered is not None:
        rows.append(("usage", usage_line(metered)))
    if job.message:
        rows.append(("message", escape(job.message)))
    if job.waiting_reason:
        rows.append(("waiting", escape(job.waiting_reason)))
    if spec.labels:
        rows.append(("labels", escape(", ".join(f"{k}={v}" for k, v in spec.labels.items()))))
    out.print(fields_table(rows))


@job_app.command("show")
def show(ctx: typer.Context, job_id: Annotated[int, typer.Argument(metavar="ID")], output: OutputOption = None) -> None:
    """Show a job: status, placement, what it asks for, and its attempts (where each ran, when, how it ended).

    Example: suanli job show 1
    """
    current = state(ctx, output)
    client = current.client()
    job = client.get_job(job_id)
    attempts = client.job_attempts(job_id)
    metered = job_usage(client, job_id)
    if current.json:
        print_json({**jsonable(job), "attempt_timeline": jsonable(attempts), "usage": jsonable(metered)})
    else:
        _show(job, metered)
        _show_attempts(attempts)


def job_usage(client: SuanliClient, job_id: int) -> UsageGroupOut | None:
    """The job's usage so far, summed; None when the caller may not read usage (its token's scope)."""
    try:
        answer = client.usage(group_by=UsageGrouping.JOB, job=job_id)
    except SuanliApiError as refused:
        if refused.status == 403:
            return None
        raise
    if isinstance(answer, UsageSummaryOut) and answer.items:
        return answer.items[0]
    return UsageGroupOut(key=str(job_id), records=0, seconds=0, accelerator_hours=0, cpu_hours=0, memory_gb_hours=0)


def usage_line(metered: UsageGroupOut) -> str:
    """The job's accelerator-hours (CPU-hours for a CPU job) recorded so far, and up to when: a
    running attempt is recorded in checkpoints, the rest when it ends."""
    if metered.records == 0:
        return "none recorded yet (an attempt is recorded hourly while it runs, and when it ends)"
    amount = (
        f"{metered.accelerator_hours:,.2f} accelerator-hours"
        if metered.accelerator_hours or not metered.cpu_hours
        else f"{metered.cpu_hours:,.2f} CPU-hours"
    )
    until = f", recorded up to {when(metered.until)}" if metered.until else ""
    return f"{amount} over {metered.seconds / 3600:,.2f} h{until}"


def _show_attempts(attempts: list[AttemptOut]) -> None:
    """The timeline: where each attempt ran, when, and how it ended."""
    if not attempts:
        return
    out.print("attempts:")
    for a in attempts:
        span = when(a.created_at) + (f" -> {when(a.ended_at)}" if a.ended_at else "")
        code = f" exit {a.exit_code}" if a.exit_code is not None else ""
        why = f" ({a.message})" if a.message else ""
        out.print(
            escape(f"  #{a.attempt} {a.center}/{a.pool} nodes {list(a.node_indices)}: {a.state}{code}{why}, {span}")
        )


@job_app.command("explain")
def explain(
    ctx: typer.Context, job_id: Annotated[int, typer.Argument(metavar="ID")], output: OutputOption = None
) -> None:
    """Why a job is where it is, or why it still waits, center by center.

    Example: suanli job explain 1
    """
    current = state(ctx, output)
    answer = current.client().explain_job(job_id)
    if current.json:
        print_json(answer)
        return
    out.print(f"job {answer.job_id} is {styled(answer.status)}")
    for reason in answer.reasons:
        out.print(f"  - {escape(reason)}")


@job_app.command("cancel")
def cancel(
    ctx: typer.Context, job_id: Annotated[int, typer.Argument(metavar="ID")], output: OutputOption = None
) -> None:
    """Cancel a job that has not finished.

    Example: suanli job cancel 1
    """
    current = state(ctx, output)
    job = current.client().cancel_job(job_id)
    if current.json:
        print_json(job)
    else:
        out.print(f"cancelled job {job.id} ({escape(job.name)})")


FOLLOW_POLL_S = 0.5


def logs(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(metavar="JOB")],
    attempt: Annotated[int | None, typer.Option("--attempt", help="which attempt (default: the latest)")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing until the attempt ends")] = False,
) -> None:
    """Print a job's output (of its latest attempt, or --attempt N); -f follows it until it ends.

    A job that has not started yet says so (on stderr); with -f its output follows once it starts.
    Exits 1 when the job FAILED, so a script can tell.

    Example: suanli logs 1 -f
    """
    client = state(ctx).client()
    offset = 0
    stdout = sys.stdout.buffer
    told_waiting = False
    while True:
        chunk = client.read_logs(job_id, attempt=attempt, offset=offset)
        if chunk.data:
            stdout.write(chunk.data)
            stdout.flush()
        if attempt is None and chunk.attempt:
            attempt = chunk.attempt  # follow the attempt we started with, not a later one
        if not chunk.attempt and not told_waiting and not chunk.done:
            told_waiting = True
            job = client.get_job(job_id)
            then = "waiting for it to start" if follow else "no output yet; -f waits for it"
            note(f"job {job_id} has not started ({job.status}: {job.message or 'in the queue'}); {then}")
        offset = chunk.next_offset
        if not follow or chunk.done:
            break
        if not chunk.data:
            time.sleep(FOLLOW_POLL_S)
    _exit_if_failed(client.get_job(job_id))


def _exit_if_failed(job: JobOut) -> None:
    if job.status == "FAILED":
        raise error(f"job {job.id} FAILED: {job.message}", code=EXIT_SERVER)
