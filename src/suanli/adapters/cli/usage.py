"""`suanli usage`: the usage records the caller may read, or their sums per day, center,
accelerator, project or job (docs/metering.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from suanli.adapters.cli.audit import parse_since
from suanli.adapters.cli.output import OutputOption, note, out, print_list, state, when
from suanli.client import UsageGroupOut, UsagePageOut, UsageRecordOut
from suanli.domain.usage import UsageGrouping


def _hours(value: float) -> str:
    return f"{value:,.2f}"


def records_table(records: Sequence[UsageRecordOut]) -> Table:
    table = Table(header_style="bold")
    for column in ("ID", "JOB", "ATT", "FROM", "TO", "ORGANIZATION", "WHERE", "ACCELERATORS", "ACC-HOURS", "REASON"):
        table.add_column(column, justify="right" if column in ("ID", "JOB", "ATT", "ACC-HOURS") else "left")
    for r in records:
        held = f"{r.accelerators} x {r.accelerator}" if r.accelerators else f"{r.cpus} CPU"
        table.add_row(
            str(r.id),
            str(r.job_id),
            str(r.attempt),
            when(r.interval_start),
            when(r.interval_end),
            escape(f"{r.organization}/{r.project}"),
            escape(f"{r.center}/{r.pool}"),
            escape(held),
            _hours(r.accelerator_hours),
            r.reason,
        )
    return table


def groups_table(groups: Sequence[UsageGroupOut], by: UsageGrouping) -> Table:
    table = Table(header_style="bold")
    table.add_column(by.value.upper())
    for column in ("RECORDS", "ACC-HOURS", "CPU-HOURS", "GB-HOURS", "HOURS", "UNTIL"):
        table.add_column(column, justify="right" if column != "UNTIL" else "left")
    for g in groups:
        table.add_row(
            escape(g.key),
            str(g.records),
            _hours(g.accelerator_hours),
            _hours(g.cpu_hours),
            _hours(g.memory_gb_hours),
            _hours(g.seconds / 3600),
            when(g.until) if g.until else "-",
        )
    return table


def usage(
    ctx: typer.Context,
    by: Annotated[
        UsageGrouping | None,
        typer.Option("--by", help="sum per day (UTC), center, accelerator, project or job; without it: the records"),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="records ending from this time on: 2026-12-01T09:00, or back from now: 2h, 7d")
    ] = None,
    until: Annotated[str | None, typer.Option(help="records ending before this time (as --since)")] = None,
    project: Annotated[str | None, typer.Option(help="only this project's usage")] = None,
    center: Annotated[str | None, typer.Option(help="only the usage on this center")] = None,
    job: Annotated[int | None, typer.Option(min=1, help="only this job's usage")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="records per page")] = 100,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page")] = None,
    output: OutputOption = None,
) -> None:
    """Usage: what ran, where, for whom and for how long, in accelerator-hours, CPU-hours and
    GB-hours. An organization sees its own; a center operator the usage on its centers.

    Examples: suanli usage --by center --since 7d

    suanli usage --job 42 -o json
    """
    current = state(ctx, output)
    answer = current.client().usage(
        group_by=by,
        project=project,
        center=center,
        job=job,
        since=parse_since(since, "--since"),
        until=parse_since(until, "--until"),
        limit=limit,
        cursor=cursor,
    )
    if current.json:
        print_list(answer.items, answer.next_cursor)
        return
    if not answer.items:
        out.print("no usage matches")
    elif isinstance(answer, UsagePageOut):
        out.print(records_table(answer.items))
    else:
        out.print(groups_table(answer.items, answer.group_by))
    if answer.next_cursor is not None:
        note(f"more records: add --cursor {answer.next_cursor}")
