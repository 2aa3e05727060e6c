"""`suanli status`: the network at a glance."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.markup import escape
from rich.table import Table

from suanli.adapters.cli.output import OutputOption, agent_presence, fields_table, out, print_json, state, styled, when
from suanli.domain.job_status import JobStatus
from suanli.protocol.rest import StatusOut


def status(ctx: typer.Context, output: OutputOption = None) -> None:
    """The network at a glance: the server and its scheduler, each center with its agent, the queue.

    Example: suanli status
    """
    current = state(ctx, output)
    glance = current.client().status()
    if current.json:
        print_json(glance)
        return
    out.print(fields_table(_summary(current.client().server, glance)))
    if glance.centers:
        out.print(_centers(glance))
    else:
        out.print("no center is registered yet: `suanli center add FILE`, or `suanli up` for this machine")


def _summary(server: str, glance: StatusOut) -> list[tuple[str, str]]:
    health, queue = glance.health, glance.queue
    scheduler = "this process leads" if health.scheduler.leader else "another process leads"
    if health.scheduler.last_error:
        scheduler += f"; [red]last error: {escape(health.scheduler.last_error)}[/red]"
    if glance.leader and glance.last_placement_at is not None:
        scheduler += f"; last placement {when(glance.last_placement_at)} by {escape(glance.leader)}"
    counts = ", ".join(f"{styled(s)} {queue.jobs[s]}" for s in JobStatus if queue.jobs.get(s))
    rows = [
        ("server", f"{escape(server)}: {styled('ONLINE') if health.status == 'ok' else '[red]degraded[/red]'}"),
        ("version", f"{health.version} ({health.database})"),
        ("scheduler", scheduler),
        ("jobs", counts or "none yet"),
    ]
    if queue.oldest_pending_since is not None:
        waited = datetime.now(UTC) - queue.oldest_pending_since
        rows.append(("longest wait", f"{_duration(waited.total_seconds())} (since {when(queue.oldest_pending_since)})"))
    return rows


def _centers(glance: StatusOut) -> Table:
    table = Table(header_style="bold")
    for column in ("CENTER", "STATE", "AGENT", "FREE/TOTAL"):
        table.add_column(column)
    for c in glance.centers:
        table.add_row(
            escape(c.name),
            styled(c.condition),
            agent_presence(c.agent, c.agent_last_seen),
            f"{c.free_accelerators}/{c.total_accelerators}",
        )
    return table


def _duration(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
