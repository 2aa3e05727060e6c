"""`suanli center ...`: register and manage compute centers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape

from suanli.adapters.cli.output import (
    EXIT_BAD_INPUT,
    OutputOption,
    agent_presence,
    centers_table,
    error,
    fields_table,
    note,
    out,
    pools_table,
    print_json,
    show_list,
    state,
    styled,
)
from suanli.client import CenterOut, load_center_spec, load_pools
from suanli.domain.centers import Backend, CenterKind, CenterSpec
from suanli.domain.errors import InvalidSpec

app = typer.Typer(
    name="center",
    help="Register and manage compute centers (算力中心).\n\nExample: suanli center list",
    no_args_is_help=True,
)


def show(center: CenterOut) -> None:
    out.print(
        fields_table(
            [
                ("name", escape(center.name)),
                ("owner", escape(center.owner)),
                ("kind", center.kind),
                ("region", escape(center.region)),
                ("backend", center.backend),
                ("state", styled(center.condition or center.state)),
                ("agent", agent_presence(center.agent, center.agent_last_seen)),
                *([("problem", "[red]" + escape(center.problem) + "[/red]")] if center.problem else []),
                ("accelerators", f"{center.free_accelerators} free of {center.total_accelerators}"),
            ]
        )
    )
    if center.pools:
        out.print(pools_table(center))


def emit(ctx: typer.Context, center: CenterOut, output: Any) -> None:
    if state(ctx, output).json:
        print_json(center)
    else:
        show(center)


def _quick_spec(values: dict[str, Any]) -> CenterSpec:
    """A center with one pool, from flags."""
    pool = {k: values.pop(k) for k in list(values) if k.startswith("pool_")}
    pool = {k.removeprefix("pool_"): v for k, v in pool.items() if v is not None}
    data = {k: v for k, v in values.items() if v is not None}
    if pool:
        pool.setdefault("name", "default")
        data["pools"] = [pool]
    try:
        return CenterSpec.model_validate(data)
    except ValidationError as e:
        lines = []
        for item in e.errors():
            loc = ".".join(str(p) for p in item["loc"])
            lines.append(f"{loc}: {str(item['msg']).removeprefix('Value error, ')}")
        raise error("the center flags are incomplete or invalid", lines, code=EXIT_BAD_INPUT) from None


@app.command("add")
def add(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="a YAML file holding one center spec")] = None,
    name: Annotated[str | None, typer.Option(help="center name (without FILE)")] = None,
    owner: Annotated[str | None, typer.Option(help="the organization that runs it")] = None,
    kind: Annotated[CenterKind | None, typer.Option(help="ai, hpc, general or edge")] = None,
    region: Annotated[str | None, typer.Option()] = None,
    backend: Annotated[Backend | None, typer.Option()] = None,
    pool: Annotated[str | None, typer.Option(help="name of the single pool")] = None,
    accelerator: Annotated[str | None, typer.Option(help="accelerator model of the pool, e.g. A100-80G")] = None,
    per_node: Annotated[int | None, typer.Option(help="accelerators per node")] = None,
    nodes: Annotated[int | None, typer.Option(help="nodes in the pool")] = None,
    cpus: Annotated[int | None, typer.Option(help="CPU cores per node")] = None,
    memory: Annotated[float | None, typer.Option(help="memory per node in GB")] = None,
    price: Annotated[float | None, typer.Option(help="CNY per accelerator-hour")] = None,
    output: OutputOption = None,
) -> None:
    """Register a center from a YAML file, or one with a single pool from flags.

    Examples: suanli center add examples/centers/qingdao-ai.yaml

    suanli center add --name lab --owner "My Lab" --kind ai --region qingdao --accelerator L40S --per-node 4 --nodes 2 --cpus 64 --memory 512 --price 6
    """  # noqa: E501
    flags = {
        "name": name,
        "owner": owner,
        "kind": kind,
        "region": region,
        "backend": backend,
        "pool_name": pool,
        "pool_accelerator": accelerator,
        "pool_accelerators_per_node": per_node,
        "pool_nodes": nodes,
        "pool_cpus_per_node": cpus,
        "pool_memory_gb_per_node": memory,
        "pool_price_per_accelerator_hour": price,
    }
    if file is not None:
        if any(v is not None for v in flags.values()):
            raise error("give a center FILE or the flags of a one-pool center, not both", code=EXIT_BAD_INPUT)
        spec = load_center_spec(file)
    else:
        spec = _quick_spec(flags)
    emit(ctx, state(ctx, output).client().add_center(spec), output)


@app.command("list")
def list_centers(ctx: typer.Context, output: OutputOption = None) -> None:
    """List centers with their state and free accelerators.

    Example: suanli center list -o json
    """
    current = state(ctx, output)
    centers = current.client().list_centers()
    show_list(current, centers, centers_table, empty="no centers yet; add one with `suanli center add FILE.yaml`")


@app.command("show")
def show_center(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="center name")], output: OutputOption = None
) -> None:
    """Show a center and its pools, with free and total accelerators per pool.

    Example: suanli center show qd-ai-1
    """
    emit(ctx, state(ctx, output).client().get_center(name), output)


@app.command("pools")
def set_pools(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="center name")],
    file: Annotated[Path, typer.Argument(help="YAML: a list of pools, or `pools:` holding one")],
    output: OutputOption = None,
) -> None:
    """Replace a center's pools with those in a YAML file.

    Example: suanli center pools qd-ai-1 examples/pools/qd-ai-1-more-h100.yaml
    """
    pools = load_pools(file)
    emit(ctx, state(ctx, output).client().set_pools(name, pools), output)


@app.command("drain")
def drain(ctx: typer.Context, name: Annotated[str, typer.Argument()], output: OutputOption = None) -> None:
    """Stop placing new jobs on a center; jobs already there go on.

    Example: suanli center drain qd-ai-1
    """
    emit(ctx, state(ctx, output).client().drain_center(name), output)


@app.command("resume")
def resume(ctx: typer.Context, name: Annotated[str, typer.Argument()], output: OutputOption = None) -> None:
    """Let a drained center take new jobs again.

    Example: suanli center resume qd-ai-1
    """
    emit(ctx, state(ctx, output).client().resume_center(name), output)


@app.command("delete")
def delete(ctx: typer.Context, name: Annotated[str, typer.Argument()], output: OutputOption = None) -> None:
    """Remove a center (refused while jobs are scheduled or running there).

    Example: suanli center delete lab
    """
    current = state(ctx, output)
    current.client().delete_center(name)
    if current.json:
        print_json({"deleted": name})
    else:
        out.print(f"deleted center {escape(name)}")


@app.command("token")
def token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    rotate: Annotated[
        bool, typer.Option(help="also revoke every older token (a leaked token: rotate, then restart the agent)")
    ] = False,
    revoke: Annotated[
        bool, typer.Option(help="mint nothing; revoke every token, so the center's agent is refused")
    ] = False,
    output: OutputOption = None,
) -> None:
    """Mint a token for the center's agent. It is shown once; the server keeps only its hash.

    Examples: suanli center token qd-ai-1

    suanli center token qd-ai-1 --rotate

    suanli center token qd-ai-1 --revoke

    The agent reads it from --token-file or SUANLI_AGENT_TOKEN (suanli agent --help).
    """
    current = state(ctx, output)
    if rotate and revoke:
        raise InvalidSpec("--rotate mints a new token and --revoke mints none: give one of them", field="--revoke")
    client = current.client()
    if revoke:
        revoked = client.revoke_center_tokens(name)
        if current.json:
            print_json(revoked)
        else:
            out.print(f"revoked {revoked.revoked} token(s) of center {escape(name)}; its agent is refused from now on")
        return
    minted = client.mint_center_token(name, rotate=rotate)
    if current.json:
        print_json(minted)
        return
    # Plain, not through rich: the token must come out exactly, for `$(suanli center token x)`.
    sys.stdout.write(minted.token + "\n")
    if rotate:
        note(f"revoked {minted.revoked} older token(s) of center {name}: restart its agent with this one")
