"""`suanli invoice` and `suanli statement`: what an organization owes for a month, and what a
center owner earned in it (docs/metering.md#invoices-and-statements)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from suanli.adapters.cli.output import OutputOption, note, out, print_json, state

PeriodOption = Annotated[
    str | None, typer.Option("--period", help="a calendar month in UTC, YYYY-MM (default: this month)")
]
CsvOption = Annotated[
    Path | None, typer.Option("--csv", help="write the CSV (a header row, one row per line, totals) to this file")
]


def invoice(
    ctx: typer.Context,
    org: Annotated[str | None, typer.Option("--org", help="whose invoice (default: your organization)")] = None,
    period: PeriodOption = None,
    csv: CsvOption = None,
    output: OutputOption = None,
) -> None:
    """Show an organization's invoice for a month: per center, pool and accelerator model, the
    accelerator-hours, what they cost, what compute vouchers cover and what is due. Its total
    due is what the organization's receivable account grew by in the month.

    Examples: suanli invoice

    suanli invoice --period 2026-11 -o json

    `--csv invoice.csv` writes it as CSV instead.
    """
    current = state(ctx, output)
    client = current.client()
    organization = org or client.whoami().organization
    if csv is not None:
        csv.write_text(client.invoice_csv(organization, period=period), encoding="utf-8")
        note(f"wrote the invoice of {organization} to {csv}")
        return
    found = client.invoice(organization, period=period)
    if current.json:
        print_json(found)
        return
    table = Table(
        "CENTER", "POOL", "ACCELERATOR", "ACC-HOURS", "CHARGED", "COVERED", f"DUE ({found.currency})",
        title=f"Invoice of {escape(found.organization)}, {found.period}", header_style="bold",
    )  # fmt: skip
    for line in found.lines:
        table.add_row(
            *(escape(x) for x in (line.center, line.pool, line.accelerator)),
            *(line.accelerator_hours, line.charged, line.covered, line.due),
        )
    totals = (found.accelerator_hours, found.total_charged, found.total_covered, found.total_due)
    table.add_row("total", "", "", *totals, style="bold")
    out.print(table)


def statement(
    ctx: typer.Context,
    owner: Annotated[
        str | None, typer.Option("--owner", help="the centers' owner (default: your organization)")
    ] = None,
    period: PeriodOption = None,
    csv: CsvOption = None,
    output: OutputOption = None,
) -> None:
    """Show what a center owner earned in a month: per center and pool, the accelerator-hours
    run there, what they were charged, the platform's fee and the net earned. The net is what
    the owner's payable account grew by in the month.

    Examples: suanli statement

    suanli statement --period 2026-11 -o json
    """
    current = state(ctx, output)
    client = current.client()
    who = owner or client.whoami().organization
    if csv is not None:
        csv.write_text(client.statement_csv(who, period=period), encoding="utf-8")
        note(f"wrote the statement of {who} to {csv}")
        return
    found = client.statement(who, period=period)
    if current.json:
        print_json(found)
        return
    table = Table(
        "CENTER", "POOL", "ACC-HOURS", "GROSS", "FEE", f"NET ({found.currency})",
        title=f"Statement of {escape(found.owner)}, {found.period}", header_style="bold",
    )  # fmt: skip
    for line in found.lines:
        table.add_row(escape(line.center), escape(line.pool), line.accelerator_hours, line.gross, line.fee, line.net)
    total_hours = sum((Decimal(line.accelerator_hours) for line in found.lines), Decimal("0.0000"))
    table.add_row("total", "", str(total_hours), found.gross, found.fee, found.net, style="bold")
    out.print(table)
