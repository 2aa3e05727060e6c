"""How the CLI speaks: Rich tables for people, plain JSON for scripts, one red line per error."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from rich.progress import Progress

from suanli.client import CenterOut, JobOut, SuanliClient

# Exit codes: what a script can tell apart.
EXIT_SERVER = 1
EXIT_BAD_INPUT = 2
EXIT_CANNOT_CONNECT = 3


T = TypeVar("T")


class _Stream:
    """A Rich console made at each print, so it sees the terminal (and COLUMNS) of the moment."""

    def __init__(self, *, stderr: bool) -> None:
        self.stderr = stderr

    def print(self, *objects: Any, **kwargs: Any) -> None:
        console = Console(stderr=self.stderr, highlight=False, soft_wrap=self.stderr)
        console.print(*objects, **kwargs)


out = _Stream(stderr=False)
err = _Stream(stderr=True)


class Output(StrEnum):
    table = "table"
    json = "json"


OutputOption = Annotated[
    Output | None,
    typer.Option("--output", "-o", help="table for people, json for scripts (only JSON on stdout)"),
]


@dataclass
class State:
    """Global options, kept in the Typer context for every command."""

    server: str | None = None
    output: Output = Output.table
    token: str | None = None  # --token / SUANLI_TOKEN; none: the client reads the home token file
    _client: SuanliClient | None = field(default=None, repr=False)

    @property
    def json(self) -> bool:
        return self.output is Output.json

    def client(self) -> SuanliClient:
        if self._client is None:
            self._client = SuanliClient(self.server, self.token)
        return self._client


def state(ctx: typer.Context, output: Output | None = None) -> State:
    """The global state, with a command's own ``-o`` (given after the command) taking precedence."""
    current = ctx.find_object(State)
    if current is None:
        current = State()
        ctx.obj = current
    if output is not None:
        current.output = output
    return current


def error(message: str, details: Iterable[str] = (), *, code: int) -> typer.Exit:
    """Prints 'error: ...' (and indented detail lines) to stderr; returns the Exit to raise."""
    err.print(f"[red]error:[/red] {escape(message)}")
    for line in details:
        err.print(f"  {escape(line)}")
    return typer.Exit(code)


def note(message: str) -> None:
    """A remark for people: on stderr, so that stdout stays clean for JSON."""
    err.print(f"[dim]{escape(message)}[/dim]")


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(value), ensure_ascii=False, indent=2) + "\n")


def local_moment(value: str) -> datetime:
    """A date and time as a person writes it (ISO 8601); without a zone, this machine's local
    time. ValueError when it is none."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.astimezone()


def print_list(items: Sequence[Any], next_cursor: str | None = None) -> None:
    """Every list command prints one envelope with ``-o json``: the items, and where the next page
    starts (``--cursor``; null on the last page), so a script reads every list the same way."""
    print_json({"items": list(items), "next_cursor": next_cursor})


def show_list(
    current: State,
    items: Sequence[T],
    table: Callable[[Sequence[T]], Table],
    *,
    empty: str,
    next_cursor: str | None = None,
    more: str = "",
) -> None:
    """A list command's answer: with ``-o json`` the envelope (``print_list``); else the table of
    the items, or ``empty`` (what to do when there are none), and ``more`` (with ``{cursor}``)
    when another page follows."""
    if current.json:
        print_list(items, next_cursor)
        return
    out.print(table(items) if items else empty)
    if next_cursor is not None and more:
        note(more.format(cursor=next_cursor))


# -- tables ---------------------------------------------------------------------------------------

STATUS_STYLE = {
    "PENDING": "yellow",
    "SCHEDULED": "cyan",
    "RUNNING": "blue",
    "SUCCEEDED": "green",
    "FAILED": "red",
    "CANCELLED": "dim",
    "PREEMPTED": "magenta",
    "LOST": "red",
    "ONLINE": "green",
    "DRAINING": "yellow",
    "OFFLINE": "red",
    "NO_AGENT": "yellow",
    "UNHEALTHY": "red",
}


def styled(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def jobs_table(jobs: Sequence[JobOut], title: str | None = None) -> Table:
    table = Table(title=title, header_style="bold")
    for column in ("ID", "NAME", "STATUS", "PRI", "WHERE", "ACCELERATORS", "SUBMITTED", "MESSAGE"):
        table.add_column(column, justify="right" if column in ("ID", "PRI") else "left")
    for job in jobs:
        placement = job.placement
        where = f"{placement.center}/{placement.pool}" if placement else "-"
        if placement:
            nodes = len(placement.node_indices) or 1
            accelerators = f"{nodes} x {placement.accelerators_per_node} {placement.accelerator}"
        else:
            accelerators = " or ".join(str(a) for a in job.spec.alternatives())
        table.add_row(
            str(job.id),
            escape(job.name),
            styled(job.status),
            str(job.priority),
            escape(where),
            escape(accelerators),
            when(job.submitted_at),
            escape("; ".join(text for text in (job.message, job.waiting_reason) if text)),
        )
    return table


def centers_table(centers: Sequence[CenterOut]) -> Table:
    table = Table(header_style="bold")
    for column in ("NAME", "KIND", "REGION", "OWNER", "BACKEND", "STATE", "AGENT", "POOLS", "FREE/TOTAL"):
        table.add_column(column)
    for c in centers:
        table.add_row(
            escape(c.name),
            c.kind,
            escape(c.region),
            escape(c.owner),
            c.backend,
            styled(c.condition or c.state) + (" [red](backend unhealthy)[/red]" if c.problem else ""),
            agent_presence(c.agent, c.agent_last_seen),
            str(len(c.pools)),
            f"{c.free_accelerators}/{c.total_accelerators}",
        )
    return table


def agent_presence(agent: str, last_seen: datetime | None) -> str:
    """connected; last seen at a time (silent lately); never."""
    if agent == "silent" and last_seen is not None:
        return f"[yellow]last seen {when(last_seen)}[/yellow]"
    return {"connected": "[green]connected[/green]", "never": "[red]never[/red]"}.get(agent, agent)


def pools_table(center: CenterOut) -> Table:
    table = Table(title=f"pools of {escape(center.name)}", header_style="bold")
    for column in ("POOL", "ACCELERATOR", "PER NODE", "NODES", "FREE/TOTAL", "CPUS/NODE", "MEM GB/NODE", "CNY/ACC-H"):
        table.add_column(column)
    for p in center.pools:
        table.add_row(
            escape(p.name),
            escape(p.accelerator),
            str(p.accelerators_per_node),
            str(p.nodes),
            f"{p.free_accelerators}/{p.total_accelerators}",
            str(p.cpus_per_node),
            f"{p.memory_gb_per_node:g}",
            f"{p.price_per_accelerator_hour:g}",
        )
    return table


def fields_table(rows: Iterable[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    return table


def progress_bar(title: str, *, quiet: bool) -> Progress:
    """A progress bar on stderr for long work (a simulation, a sweep): what runs, a bar, done of
    all, time so far; it leaves no trace when done, and ``quiet`` hides it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(title),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=quiet,
    )
