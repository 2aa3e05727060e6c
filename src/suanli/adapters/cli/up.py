"""`suanli up`: the server (API + scheduler) and a local center made of this machine, in one process."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from suanli.adapters.cli.agent_threads import AgentThreads, stop_on_signals
from suanli.adapters.cli.output import EXIT_BAD_INPUT, error

if TYPE_CHECKING:
    import socket
    import threading

    from suanli.agent.client import AgentClient, HelloAnswer
    from suanli.agent.executor import Executor
    from suanli.agent.runner import Agent
    from suanli.composition import Container
    from suanli.domain.centers import CenterSpec
    from suanli.settings import Settings

GRACEFUL_SHUTDOWN_S = 1
# The agent's long polls are short here (work still arrives at once), so that it stops within
# about this long of Ctrl-C, before the server; STOP_S is how long the server waits for it.
POLL_WAIT_S = 1.0
STOP_S = 3.0


def up(
    port: Annotated[int | None, typer.Option(help="port to listen on [default: 8642]")] = None,
    home: Annotated[
        Path | None, typer.Option(help="state, SQLite database and job logs [default: $SUANLI_HOME or ~/.suanli]")
    ] = None,
    accelerators: Annotated[
        str | None,
        typer.Option(
            "--accelerators",
            help="declare MODEL:N accelerator slots (e.g. A100-80G:1), or MODEL:NODESxN node slots for gangs "
            "(e.g. CPU:2x1), instead of detecting GPUs",
        ),
    ] = None,
    center: Annotated[str, typer.Option("--center", help="the name of this machine's center")] = "local",
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="also run simulated remote centers (an Ascend 910B and an A100 AI center, a CPU supercomputer "
            "partition, an edge site) and submit sample jobs, to watch cross-center scheduling",
        ),
    ] = False,
) -> None:
    """Run Suanli on this machine: the server (API + scheduler) and a local center whose jobs run here.

    The center is registered if it does not exist yet; its agent talks to the server over loopback HTTP, like any other agent. Ctrl-C or SIGTERM stops both.

    With --demo, four simulated centers (named sim-..., backend "simulated": they run nothing, their jobs end after a time derived from the job's time limit) join too, and sample jobs are submitted; `suanli jobs` and `suanli center list` show where everything went. A home that holds other centers is refused (see suanli reset).

    Example: suanli up --port 8642 --accelerators A100-80G:1
    """  # noqa: E501
    from suanli.adapters.cli.serving import listen
    from suanli.agent.log_lines import configure_logging
    from suanli.settings import load_settings

    configure_logging(logging.WARNING, "suanli")
    logging.getLogger("suanli.agent").setLevel(logging.INFO)  # a line per attempt started and ended
    logging.getLogger("httpx").setLevel(logging.WARNING)
    overrides = {k: v for k, v in {"port": port, "home": home}.items() if v is not None}
    settings = load_settings(**overrides)
    listener = listen(settings.host, settings.port)  # a port in use: one line, before anything starts
    try:
        _serve(settings, listener, accelerators=accelerators, center=center, demo=demo)
    finally:
        listener.close()
    typer.echo("Suanli stopped")


@dataclass
class _Site:
    """This process's server and the agents of its centers, which reach it over loopback."""

    container: Container
    url: str  # where people reach the server
    loopback: str  # where the agents do
    agents: list[tuple[str, Agent]] = field(default_factory=list)
    executors: list[Executor] = field(default_factory=list)
    clients: list[AgentClient] = field(default_factory=list)

    def ensure_center(self, spec: CenterSpec) -> None:
        from suanli.domain.errors import NotFound

        try:
            self.container.centers.get(spec.name)
        except NotFound:
            self.container.centers.add(spec)

    def add_agent(
        self, name: str, executor: Executor, on_first_hello: Callable[[HelloAnswer], None] | None = None
    ) -> Agent:
        from suanli.agent.client import AgentClient
        from suanli.agent.executor import owner_tag
        from suanli.agent.runner import Agent

        # A new token at every start, and the older ones of the center revoked: they were held
        # only by earlier runs of this command, which are over.
        token, _ = self.container.agents.rotate_token(name)
        client = AgentClient(self.loopback, token)
        # The owner tag of this machine's attempts outlives the token, so that after a kill -9
        # the next `suanli up` adopts what the last one left running (LocalExecutor.recover).
        client.owner = owner_tag(f"suanli-up:{name}")
        runner = Agent(client, executor, wait_s=POLL_WAIT_S, on_first_hello=on_first_hello)
        self.agents.append((name, runner))
        self.executors.append(executor)
        self.clients.append(client)
        return runner

    def close(self) -> None:
        for executor in self.executors:
            executor.close()
        for client in self.clients:
            client.close()


def _serve(settings: Settings, listener: socket.socket, *, accelerators: str | None, center: str, demo: bool) -> None:
    import uvicorn

    from suanli.adapters.api.app import create_app
    from suanli.adapters.cli.identity import admin_token_note
    from suanli.adapters.cli.serving import Server, url_of
    from suanli.composition import build_container

    port = listener.getsockname()[1]
    loopback = "[::1]" if ":" in settings.host else "127.0.0.1"
    site = _Site(build_container(settings), url_of(settings.host, port), f"http://{loopback}:{port}")
    agents = AgentThreads()
    try:
        if demo:
            _refuse_a_home_with_other_centers(site, settings, center)
        _add_local_center(site, settings.home / "agent", center, accelerators)
        if demo:
            _add_demo_centers(site)
        config = uvicorn.Config(
            create_app(site.container),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        )
        banner = f"Suanli serving on {site.url} (API docs {site.url}/docs; home {settings.home})"
        # A new home gets its first admin, whose token the CLI on this machine then uses.
        if site.container.bootstrap_admin():
            banner += admin_token_note(settings.home)
        server = Server(config, stop=agents.stop, stop_s=STOP_S, on_started=lambda: typer.echo(banner))
        _start_agents(site, agents, server.ready, end_server=lambda: setattr(server, "should_exit", True))
        if demo:
            agents.start("suanli-demo-jobs", lambda stop: _submit_demo_jobs(site, center), after=server.ready)
        try:
            # uvicorn raises the signal it caught again once it has stopped: end quietly.
            with stop_on_signals(agents.stop, signal.SIGINT, signal.SIGTERM):
                server.run(sockets=[listener])
        finally:
            agents.stop.set()
            agents.join(5)
    finally:
        site.close()
    agents.raise_failure()


def _add_local_center(site: _Site, work_dir: Path, center: str, accelerators: str | None) -> None:
    from suanli.agent.backends import BackendOptions, BadOption, local
    from suanli.domain.centers import Backend, CenterKind, CenterSpec

    try:
        made = local.build(BackendOptions(work_dir, accelerators=accelerators))
    except BadOption as bad:
        raise error(str(bad), code=EXIT_BAD_INPUT) from None
    site.ensure_center(
        CenterSpec(name=center, owner="this machine", kind=CenterKind.GENERAL, region="local", backend=Backend.LOCAL)
    )
    pools = made.executor.pools()
    capacity = ", ".join(f"{p.name}: {p.nodes} x {p.accelerators_per_node} {p.accelerator}" for p in pools)

    def connected(answer: HelloAnswer) -> None:
        typer.echo(f"Center {answer.center} (this machine): {capacity} ({made.capacity})")
        typer.echo(
            f"Submit work with `suanli --server {site.url} submit FILE.yaml` (examples/ has job files); "
            "Ctrl-C stops Suanli and the jobs running here."
        )

    site.add_agent(center, made.executor, on_first_hello=connected)


def _refuse_a_home_with_other_centers(site: _Site, settings: Settings, center: str) -> None:
    """The demo registers its centers and submits sample jobs: in a home that holds a real
    network it would mix with it. It says so and offers a fresh home instead."""
    from suanli.adapters.cli.demo import DEMO_CENTERS

    ours = {center, *(spec.name for spec in DEMO_CENTERS)}
    others = sorted(c.name for c in site.container.centers.list() if c.name not in ours)
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        raise error(
            f"the home {settings.home} already has other centers ({shown}); the demo would mix its "
            "centers and sample jobs with them",
            [
                "run the demo in a fresh home: suanli up --demo --home /tmp/suanli-demo",
                f"or empty this one first (every center and job in it is lost): suanli reset --home {settings.home}",
            ],
            code=EXIT_BAD_INPUT,
        )


def _add_demo_centers(site: _Site) -> None:
    from suanli.adapters.cli.demo import DEMO_CENTERS
    from suanli.agent.simulated import SimulatedExecutor

    for spec in DEMO_CENTERS:
        site.ensure_center(spec)
        site.add_agent(spec.name, SimulatedExecutor(list(spec.pools), catalog=site.container.catalog))


def _start_agents(site: _Site, agents: AgentThreads, ready: threading.Event, end_server: Callable[[], None]) -> None:
    """Each agent starts once the server answers; the first, this machine's, ends the server
    when it has stopped (after its jobs), so that no request is cut off."""
    (_, local), *demos = site.agents
    agents.start("suanli-agent", local.run, after=ready, then=end_server)
    for i, (_, runner) in enumerate(demos):
        agents.start(f"suanli-demo-agent-{i}", runner.run, after=ready)


def _submit_demo_jobs(site: _Site, center: str) -> None:
    from suanli.adapters.cli.demo import DEMO_CENTERS, demo_jobs, local_demo_job

    samples = [*demo_jobs(), local_demo_job(center)]
    submitted = site.container.jobs.submit([spec for _, spec in samples], idempotency_keys=[k for k, _ in samples])
    typer.echo(
        f"Demo: {', '.join(spec.name for spec in DEMO_CENTERS)} are SIMULATED centers (they run nothing); "
        f"{len(submitted)} sample jobs submitted. Watch them: `suanli --server {site.url} jobs`, "
        f"`suanli --server {site.url} center list`, `suanli --server {site.url} job show ID`."
    )
