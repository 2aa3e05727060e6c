"""`suanli audit` and `suanli audit verify`: read the audit log and check its hash chain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from suanli.adapters.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_SERVER,
    OutputOption,
    error,
    local_moment,
    out,
    print_json,
    show_list,
    state,
    when,
)
from suanli.domain.durations import parse_duration
from suanli.protocol.rest import AuditEntryOut

app = typer.Typer(name="audit", no_args_is_help=False)


def parse_since(value: str | None, option: str) -> datetime | None:
    """A duration back from now (``30m``, ``2h``, ``7d``) or a date and time (local without a zone)."""
    if value is None:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)
    try:
        return local_moment(value)
    except ValueError:
        raise error(
            f"{option}: {value!r} is neither a duration back from now (30m, 2h, 7d) nor a date and time "
            "(2026-12-01T18:00, this machine's local time unless it names a zone)",
            code=EXIT_BAD_INPUT,
        ) from None


def audit_table(entries: Sequence[AuditEntryOut]) -> Table:
    table = Table(header_style="bold")
    for column in ("SEQ", "TIME", "ACTOR", "ORGANIZATION", "ACTION", "TARGET", "RESULT", "CLIENT", "REQUEST"):
        table.add_column(column, justify="right" if column == "SEQ" else "left")
    for e in entries:
        refused = e.result in ("401", "403", "denied")
        result = f"[red]{escape(e.result)}[/red]" if refused else escape(e.result)
        table.add_row(
            str(e.sequence),
            when(e.at),
            escape(e.actor),
            escape(e.organization or "-"),
            escape(e.action),
            escape(e.target),
            result,
            escape(e.client),
            escape(e.request_id),
        )
    return table


@app.callback(invoke_without_command=True)
def audit(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option(help="only this actor's entries, e.g. user:alice or anonymous")] = None,
    action: Annotated[
        str | None, typer.Option(help="actions starting with this, e.g. POST or 'DELETE /api/v1/centers'")
    ] = None,
    result: Annotated[str | None, typer.Option(help="only this result: 403, 201, denied, ...")] = None,
    since: Annotated[
        str | None, typer.Option(help="from this time on: 2026-12-01T09:00, or back from now: 2h, 7d")
    ] = None,
    until: Annotated[str | None, typer.Option(help="before this time (as --since)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="entries per page")] = 100,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page")] = None,
    output: OutputOption = None,
) -> None:
    """The audit log, newest first: who did what, acting for which organization, on what, with
    what result, from where, when. Every state-changing request is in it, and every refused one.

    Examples: suanli audit --action POST --limit 20

    suanli audit --since 1h -o json
    """
    current = state(ctx, output)
    if ctx.invoked_subcommand is not None:
        return
    page = current.client().list_audit(
        actor=actor,
        action=action,
        result=result,
        since=parse_since(since, "--since"),
        until=parse_since(until, "--until"),
        limit=limit,
        cursor=cursor,
    )
    show_list(
        current,
        page.entries,
        audit_table,
        empty="no audit entries match",
        next_cursor=page.next_cursor,
        more="older entries: add --cursor {cursor}",
    )


@app.command("verify")
def verify(ctx: typer.Context, output: OutputOption = None) -> None:
    """Check the audit log's hash chain; exit 1 naming each edited or deleted entry.

    Every entry must match its hash and link to the one before it; each problem is one line that
    names the entry's sequence number.

    Note the last hash it prints somewhere else: a later verify whose log no longer holds that
    entry with that hash shows the log was cut or rewritten from there on.

    Example: suanli audit verify
    """
    current = state(ctx, output)
    result = current.client().verify_audit()
    if current.json:
        print_json(result)
        if not result.ok:
            raise typer.Exit(EXIT_SERVER)
        return
    if not result.ok:
        raise error(
            f"the audit log was tampered with: {len(result.problems)} problem(s) in {result.entries} entries",
            [p.message for p in result.problems],
            code=EXIT_SERVER,
        )
    if result.entries == 0:
        out.print("the audit log is empty")
        return
    out.print(
        f"the audit log is intact: {result.entries} entries, the last #{result.last_sequence} with hash "
        f"{result.last_hash}",
        soft_wrap=True,  # the hash whole on one line, to copy
    )
