"""`suanli up`: the server (API + scheduler) and a local center made of this machine, in one process."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from suanli.adapters.cli.agent import raise_failure

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

    With --demo, four simulated centers (named sim-..., backend "simulated": they run nothing, their jobs end after a time derived from the job's time limit) join too, and sample jobs are submitted; `suanli jobs` and `suanli centers` show where everything went.

    Example: suanli up --port 8642 --accelerators A100-80G:1
    """  # noqa: E501
    import uvicorn

    from suanli.adapters.api.app import create_app
    from suanli.adapters.cli.demo import DEMO_CENTERS, demo_jobs, local_demo_job
    from suanli.agent.client import AgentClient, HelloAnswer
    from suanli.agent.executor import Executor, owner_tag
    from suanli.agent.local import LocalExecutor
    from suanli.agent.log_lines import configure_logging
    from suanli.agent.runner import Agent
    from suanli.agent.simulated import SimulatedExecutor
    from suanli.composition import build_container
    from suanli.domain.centers import Backend, CenterKind, CenterSpec
    from suanli.domain.errors import NotFound
    from suanli.settings import load_settings

    configure_logging(logging.WARNING, "suanli")
    logging.getLogger("suanli.agent").setLevel(logging.INFO)  # a line per attempt started and ended
    logging.getLogger("httpx").setLevel(logging.WARNING)
    overrides = {k: v for k, v in {"port": port, "home": home}.items() if v is not None}
    settings = load_settings(**overrides)
    container = build_container(settings)

    def ensure_center(spec: CenterSpec) -> None:
        try:
            container.centers.get(spec.name)
        except NotFound:
            container.centers.add(spec)

    loopback = "[::1]" if ":" in settings.host else "127.0.0.1"
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{shown_host}:{settings.port}"

    def agent_for(
        name: str, executor: Executor, on_first_hello: Callable[[HelloAnswer], None] | None = None
    ) -> tuple[Agent, AgentClient]:
        # A new token at every start, and the older ones of the center revoked: they were held
        # only by earlier runs of this command, which are over.
        token, _ = container.agents.rotate_token(name)
        client = AgentClient(f"http://{loopback}:{settings.port}", token)
        # The owner tag of this machine's attempts outlives the token, so that after a kill -9
        # the next `suanli up` adopts what the last one left running (LocalExecutor.recover).
        client.owner = owner_tag(f"suanli-up:{name}")
        return Agent(client, executor, wait_s=POLL_WAIT_S, on_first_hello=on_first_hello), client

    ensure_center(
        CenterSpec(name=center, owner="this machine", kind=CenterKind.GENERAL, region="local", backend=Backend.LOCAL)
    )
    executor = LocalExecutor(settings.home / "agent", declared=accelerators)
    kind = "declared" if executor.declared else f"detected ({executor.source.value})"
    capacity = ", ".join(f"{p.name}: {p.nodes} x {p.accelerators_per_node} {p.accelerator}" for p in executor.pools())
    executors: list[LocalExecutor | SimulatedExecutor] = [executor]

    def connected(answer: HelloAnswer) -> None:
        typer.echo(f"Center {answer.center} (this machine): {capacity} ({kind})")
        typer.echo(
            f"Submit work with `suanli --server {url} submit FILE.yaml` (examples/ has job files); "
            "Ctrl-C stops Suanli and the jobs running here."
        )

    local_agent = agent_for(center, executor, on_first_hello=connected)
    demo_agents: list[tuple[Agent, AgentClient]] = []
    if demo:
        for spec in DEMO_CENTERS:
            ensure_center(spec)
            simulated = SimulatedExecutor(list(spec.pools), catalog=container.catalog)
            executors.append(simulated)
            demo_agents.append(agent_for(spec.name, simulated))

    stop = threading.Event()
    failure: list[BaseException] = []

    class Server(uvicorn.Server):
        """Stops the agents first (the local one ends the server when it is done), so no request is
        cut off; a second signal, or agents that have not stopped within STOP_S, stop it anyway."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if stop.is_set():
                super().handle_exit(sig, frame)
                return
            stop.set()
            fallback = threading.Timer(STOP_S, setattr, (self, "should_exit", True))
            fallback.daemon = True
            fallback.start()

    config = uvicorn.Config(
        create_app(container),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    server = Server(config)

    def serve_agent(runner: Agent, ends_server: bool) -> None:
        while not server.started:  # the server answers from here on
            if stop.wait(0.05):
                server.should_exit = ends_server
                return
        try:
            runner.run(stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)
            stop.set()
        finally:
            if ends_server:
                server.should_exit = True

    def submit_demo_jobs() -> None:
        while not server.started:
            if stop.wait(0.05):
                return
        samples = [*demo_jobs(), local_demo_job(center)]
        submitted = container.jobs.submit([spec for _, spec in samples], idempotency_keys=[k for k, _ in samples])
        typer.echo(
            f"Demo: {', '.join(spec.name for spec in DEMO_CENTERS)} are SIMULATED centers (they run nothing); "
            f"{len(submitted)} sample jobs submitted. Watch them: `suanli --server {url} jobs`, "
            f"`suanli --server {url} center list`, `suanli --server {url} job show ID`."
        )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()  # uvicorn raises the signal it caught again once it has stopped: end quietly

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    threads = [threading.Thread(target=serve_agent, args=(local_agent[0], True), name="suanli-agent", daemon=True)]
    threads += [
        threading.Thread(target=serve_agent, args=(runner, False), name=f"suanli-demo-agent-{i}", daemon=True)
        for i, (runner, _) in enumerate(demo_agents)
    ]
    if demo:
        threads.append(threading.Thread(target=submit_demo_jobs, name="suanli-demo-jobs", daemon=True))
    typer.echo(f"Suanli serving on {url} (API docs {url}/docs; home {settings.home})")
    for thread in threads:
        thread.start()
    try:
        server.run()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        for made in executors:
            made.close()
        for _, client in [local_agent, *demo_agents]:
            client.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    raise_failure(failure)
    typer.echo("Suanli stopped")
