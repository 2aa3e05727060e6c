"""`suanli balance`: what your organization owes for compute and, as a center owner, earns; every
account for a platform admin (docs/metering.md#the-ledger)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from suanli.adapters.cli.audit import parse_since
from suanli.adapters.cli.output import OutputOption, out, print_list, state

# What a balance means, by the kind of account (a debit positive, a credit negative).
MEANING = {
    "receivable": ("owes", 1),
    "payable": ("is owed", -1),
    "fee": ("earned in fees", -1),
    "voucher": ("owes for vouchers", 1),
}


def balance(
    ctx: typer.Context,
    until: Annotated[
        str | None,
        typer.Option(help="the balances before this time: a date and time (2026-12-01T00:00), or a time ago (30d)"),
    ] = None,
    output: OutputOption = None,
) -> None:
    """Show the ledger's balances you may read: what your organization owes for the compute it
    used (its usage, rated at each pool's prices), and what it is owed for the compute its
    centers supplied, after the platform's fee. Charges follow usage within moments.

    Examples: suanli balance

    suanli balance -o json
    """
    current = state(ctx, output)
    answer = current.client().accounts(until=parse_since(until, "--until"))
    if current.json:
        print_list(answer.items)
        return
    table = Table("ACCOUNT", "WHO", "", f"AMOUNT ({answer.currency})", header_style="bold")
    for item in answer.items:
        meaning, sign = MEANING.get(item.kind, (item.kind, 1))
        table.add_row(item.account, escape(item.owner), meaning, f"{sign * Decimal(item.balance):,.2f}")
    out.print(table)
