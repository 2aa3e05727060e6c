"""The `suanli` command: a server, and a client of it for people and scripts.

Exit codes: 0 done, 1 the server refused or failed, 2 bad input, 3 cannot reach the server.
Errors print one red line (and field lines) to stderr, never a traceback.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from suanli.adapters.cli import (
    agent,
    audit,
    balance,
    centers,
    home,
    identity,
    invoices,
    jobs,
    prices,
    simulate,
    status,
    sweep,
    up,
    usage,
)
from suanli.adapters.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_CANNOT_CONNECT,
    EXIT_SERVER,
    Output,
    State,
    error,
)
from suanli.client import SpecFileError, SuanliApiError, SuanliConnectionError, SuanliTokenError
from suanli.domain.errors import SuanliError

BAD_INPUT_STATUSES = frozenset({400, 413, 422})

log = logging.getLogger("suanli.cli")

try:  # newer Typer vendors Click, and its usage errors derive from TyperException
    from typer.exceptions import TyperException as _UsageError
except ImportError:  # pragma: no cover - older Typer on Click
    from click import ClickException as _UsageError  # type: ignore[assignment]

# Typer's own control flow (exit codes, usage errors it prints itself) passes through untouched.
_PASS_THROUGH: tuple[type[BaseException], ...] = (typer.Exit, typer.Abort, _UsageError)


def _report(exc: Exception) -> typer.Exit:
    if isinstance(exc, SuanliApiError):
        code = EXIT_BAD_INPUT if exc.status in BAD_INPUT_STATUSES else EXIT_SERVER
        lines = [f"{e.field}: {e.message}" for e in exc.errors]
        return error(f"{exc.detail or exc.title} (HTTP {exc.status} {exc.title})", lines, code=code)
    if isinstance(exc, SuanliConnectionError):
        return error(str(exc), code=EXIT_CANNOT_CONNECT)
    if isinstance(exc, SuanliTokenError):
        return error(str(exc), code=EXIT_BAD_INPUT)
    if isinstance(exc, SpecFileError):
        if len(exc.errors) == 1:
            return error(str(exc), code=EXIT_BAD_INPUT)
        lines = [f"{where}: {message}" if where else message for where, message in exc.errors]
        return error(f"{exc.path}: {len(exc.errors)} problems", lines, code=EXIT_BAD_INPUT)
    if isinstance(exc, SuanliError):
        # A message from a file's validation names its field itself ("fleet.yaml: pools[0]: ...").
        named = exc.field and f"{exc.field}:" in exc.message
        where = f"{exc.field}: " if exc.field and not named else ""
        return error(f"{where}{exc.message}", code=EXIT_BAD_INPUT)
    log.debug("unexpected error", exc_info=exc)
    return error(f"unexpected {type(exc).__name__}: {exc} (set SUANLI_DEBUG=1 for the traceback)", code=EXIT_SERVER)


class FriendlyGroup(TyperGroup):
    """Turns every error a command raises into one readable line and an exit code."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except _PASS_THROUGH:
            raise
        except Exception as exc:
            if os.environ.get("SUANLI_DEBUG"):
                raise
            raise _report(exc) from None


app = typer.Typer(
    name="suanli",
    cls=FriendlyGroup,
    help=(
        "Suanli (算力): place AI work on the compute centers of a region.\n\n"
        "Example: suanli center add examples/centers/shenzhen-ascend.yaml && "
        "suanli submit examples/alternatives-a100-or-910b.yaml && suanli jobs"
    ),
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
)
app.add_typer(centers.app, name="center")
app.add_typer(jobs.job_app, name="job")
app.command("submit")(jobs.submit)
app.command("jobs")(jobs.list_jobs)
app.command("logs")(jobs.logs)
app.command("status")(status.status)
app.command("agent")(agent.agent)
app.command("up")(up.up)
app.command("reset")(home.reset)
app.command("simulate")(simulate.simulate)
app.command("sweep")(sweep.sweep)
app.add_typer(audit.app, name="audit")
app.command("usage")(usage.usage)
app.command("balance")(balance.balance)
app.command("invoice")(invoices.invoice)
app.command("statement")(invoices.statement)
app.add_typer(prices.app, name="price")
identity.register(app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"suanli {_version()}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Option("--server", envvar="SUANLI_SERVER", help="the server's URL [default: http://127.0.0.1:8642]"),
    ] = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="table for people, json for scripts")] = Output.table,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="SUANLI_TOKEN",
            help="an API token (sk_...) [default: $SUANLI_HOME/token, which `suanli login` writes]",
            show_envvar=True,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="print Suanli's version and exit"),
    ] = False,
) -> None:
    """Suanli (算力): place AI work on the compute centers of a region."""
    ctx.obj = State(server=server, output=output, token=token)


GRACEFUL_SHUTDOWN_S = 3


@app.command("server")
def server(
    host: Annotated[str | None, typer.Option(help="address to listen on [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on [default: 8642]")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="e.g. postgresql://user@host/suanli [default: SQLite under the home]")
    ] = None,
    home: Annotated[
        Path | None, typer.Option(help="state and config folder [default: $SUANLI_HOME or ~/.suanli]")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="server processes sharing the port; one schedules [default: 1]"),
    ] = None,
) -> None:
    """Run the Suanli server: the REST API and the scheduler.

    Example: suanli server --port 8642 --database-url postgresql://suanli@db/suanli --workers 2
    """
    import uvicorn

    from suanli.adapters.api.app import create_app
    from suanli.adapters.cli.serving import listen, serve, url_of
    from suanli.composition import bootstrap_identity, build_container
    from suanli.settings import load_settings

    overrides = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "database_url": database_url,
            "home": home,
            "workers": workers,
        }.items()
        if v is not None
    }
    settings = load_settings(**overrides)
    listener = listen(settings.host, settings.port)  # a port in use is one line, before any work
    url = url_of(settings.host, settings.port)
    database = settings.resolved_database_url.split("://", 1)[0]
    banner = f"Suanli {_version()} serving on {url} (API docs {url}/docs; database {database}; home {settings.home}"
    # A new installation gets its first admin, whose token the CLI on this machine then uses.
    admin = identity.admin_token_note(settings.home) if bootstrap_identity(settings) else ""
    options: dict[str, Any] = {
        "log_level": "warning",
        "access_log": False,
        # Agents hold long polls open for up to a minute; do not wait for them to stop.
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
    }
    if settings.workers == 1:
        serve(uvicorn.Config(create_app(build_container(settings)), **options), listener, banner=banner + ")" + admin)
        return
    # Several processes: each builds its own container from the environment; the database is
    # migrated once here first, and the leader lock lets exactly one of them schedule.
    from suanli.adapters.storage.migrations_runner import upgrade_database

    for key, value in overrides.items():
        os.environ[f"SUANLI_{key.upper()}"] = str(value)
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url)
    config = uvicorn.Config(
        "suanli.composition:create_app_from_settings", factory=True, workers=settings.workers, **options
    )
    serve(config, listener, banner=banner + f"; {settings.workers} processes)" + admin)


def _version() -> str:
    import suanli

    return suanli.__version__


def main() -> None:
    app()


if __name__ == "__main__":
    main()
