"""`suanli price ...`: publish, list and withdraw the prices of a center's pools (docs/pricing.md).

Prices are taken as the text typed and sent as text, never through a float: 0.0125 arrives as
0.0125.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from suanli.adapters.cli.output import (
    EXIT_BAD_INPUT,
    OutputOption,
    error,
    local_moment,
    note,
    out,
    print_json,
    show_list,
    state,
    when,
)
from suanli.client import RateOut
from suanli.domain.pricing import Standing

app = typer.Typer(
    name="price",
    help=(
        "Prices of the centers' pools (rate cards): per accelerator-hour, CPU-hour and GB-hour, each "
        "from its date on.\n\nExample: suanli price list"
    ),
    no_args_is_help=True,
)

PoolOption = Annotated[str, typer.Option("--pool", help="the pool's name, as `suanli center show` lists it")]


def parse_time(value: str | None, option: str) -> datetime | None:
    """A date and time; without a zone, this machine's local time."""
    if value is None:
        return None
    try:
        return local_moment(value)
    except ValueError:
        raise error(
            f"{option}: {value!r} is not a date and time; write e.g. 2027-01-01T00:00:00+08:00 (without a zone: "
            "this machine's local time)",
            code=EXIT_BAD_INPUT,
        ) from None


def rates_table(rates: Sequence[RateOut]) -> Table:
    table = Table(header_style="bold")
    columns = ("CENTER", "POOL", "ACCELERATOR", "FROM", "CURRENCY", "ACC-HOUR", "CPU-HOUR", "GB-HOUR", "STANDING")
    for column in columns:
        table.add_column(column, justify="right" if column.endswith("HOUR") else "left")
    for r in rates:
        table.add_row(
            escape(r.center),
            escape(r.pool),
            escape(r.accelerator or "(gone)"),
            when(r.effective_from),
            r.currency,
            str(r.per_accelerator_hour),
            str(r.per_cpu_hour),
            str(r.per_gb_hour),
            r.standing.value.replace("_", " "),
        )
    return table


@app.command("set")
def set_price(
    ctx: typer.Context,
    center: Annotated[str, typer.Argument(help="the center")],
    pool: PoolOption,
    per_accelerator_hour: Annotated[
        str | None, typer.Option(help="per accelerator-hour (in a CPU pool: per core-hour), e.g. 12.5")
    ] = None,
    per_cpu_hour: Annotated[str | None, typer.Option(help="per CPU core-hour beside the accelerators")] = None,
    per_gb_hour: Annotated[str | None, typer.Option(help="per GB-hour of memory")] = None,
    currency: Annotated[str | None, typer.Option(help="ISO 4217 code [default: the pool's, CNY]")] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="when it takes effect, not in the past [default: now]; e.g. 2027-01-01T00:00+08:00"
        ),
    ] = None,
    output: OutputOption = None,
) -> None:
    """Publish a pool's prices, from now or from a later date; a price left out stays as it was.

    A price in force is never changed: a new one applies from its date on. A price published for
    a later date may be corrected (set it again with the same --from) or withdrawn.

    Examples: suanli price set qd-ai-1 --pool a100 --per-accelerator-hour 16.5 --per-cpu-hour 0.05

    suanli price set qd-ai-1 --pool h100 --per-accelerator-hour 28 --from 2099-01-01T00:00:00+08:00
    """
    current = state(ctx, output)
    published = current.client().publish_rate(
        center,
        pool,
        per_accelerator_hour=per_accelerator_hour,
        per_cpu_hour=per_cpu_hour,
        per_gb_hour=per_gb_hour,
        currency=currency,
        effective_from=parse_time(start, "--from"),
    )
    if current.json:
        print_json(published)
        return
    out.print(rates_table([published]))
    if published.replaced is not None:
        note(f"it replaces the rate published for {when(published.replaced.effective_from)}, which never applied")


@app.command("list")
def list_prices(
    ctx: typer.Context,
    center: Annotated[str | None, typer.Argument(help="one center [default: every center]")] = None,
    at: Annotated[
        str | None, typer.Option(help="the prices in force at this time (e.g. 2027-01-01T00:00+08:00) [default: now]")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="every rate: superseded ones too")] = False,
    output: OutputOption = None,
) -> None:
    """The prices of the centers' pools: the rate in force and those scheduled; with --at, what was
    in force then; with --all, every rate.

    Examples: suanli price list

    suanli price list qd-ai-1 --all -o json
    """
    current = state(ctx, output)
    client = current.client()
    moment = parse_time(at, "--at")
    names = [center] if center is not None else [c.name for c in client.list_centers()]
    if every:
        shown = {Standing.SUPERSEDED, Standing.IN_FORCE, Standing.SCHEDULED}
    else:
        shown = {Standing.IN_FORCE} if moment is not None else {Standing.IN_FORCE, Standing.SCHEDULED}
    # Without --all, a pool the center no longer has (its accelerator is null) is history.
    rates = [
        r
        for name in names
        for r in client.list_rates(name, at=moment).rates
        if r.standing in shown and (every or r.accelerator is not None)
    ]
    show_list(
        current,
        rates,
        rates_table,
        empty="no prices yet; a center's pools get theirs when it is registered (`suanli center add`)",
    )


@app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    center: Annotated[str, typer.Argument(help="the center")],
    pool: PoolOption,
    start: Annotated[str, typer.Option("--from", help="the time the price was to take effect, as published")],
    output: OutputOption = None,
) -> None:
    """Withdraw a price that has not taken effect yet (one in force is never changed).

    Example: suanli price withdraw qd-ai-1 --pool h100 --from 2099-01-01T00:00:00+08:00
    """
    current = state(ctx, output)
    moment = parse_time(start, "--from")
    assert moment is not None
    withdrawn = current.client().withdraw_rate(center, pool, moment)
    if current.json:
        print_json(withdrawn)
    else:
        out.print(f"withdrew the price of {escape(center)}/{escape(pool)} from {when(withdrawn.effective_from)}")
