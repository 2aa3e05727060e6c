"""`suanli agent`: join this machine to a Suanli server as a compute center's agent."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from suanli.adapters.cli.output import EXIT_BAD_INPUT, EXIT_SERVER, error

log = logging.getLogger("suanli.agent")


def _default_work_dir() -> Path:
    home = os.environ.get("SUANLI_HOME")
    return (Path(home) if home else Path.home() / ".suanli") / "agent"


def agent(
    server: Annotated[str, typer.Option("--server", help="the Suanli server's URL, e.g. https://suanli.example.org")],
    token: Annotated[
        str,
        typer.Option(
            "--token",
            envvar="SUANLI_AGENT_TOKEN",
            help="the center's token (`suanli center token NAME`); or set SUANLI_AGENT_TOKEN",
        ),
    ],
    backend: Annotated[str, typer.Option("--backend", help="where attempts run; only 'local' for now")] = "local",
    accelerators: Annotated[
        str | None,
        typer.Option(
            "--accelerators",
            help="declare MODEL:N accelerator slots (e.g. A100-80G:4), or MODEL:NODESxN node slots for gangs "
            "(e.g. CPU:2x1), instead of detecting GPUs",
        ),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="attempts' working folders and logs [default: $SUANLI_HOME/agent]"),
    ] = None,
    cancel_grace_s: Annotated[
        float, typer.Option("--cancel-grace", min=0, help="seconds between SIGTERM and SIGKILL on cancel")
    ] = 10.0,
) -> None:
    """Run a center's agent: connects OUT to the server, takes work, runs it here.

    It needs outbound HTTP(S) to the server only, and survives the server going away (retries, says hello again). On Ctrl-C or SIGTERM it stops, and stops the attempts it runs; the server reruns them elsewhere (docs/agent.md).

    Example: suanli agent --server http://10.0.0.5:8642 --token sl_... --accelerators A100-80G:2
    """  # noqa: E501
    from suanli.agent.client import AgentClient, HelloAnswer
    from suanli.agent.local import LocalExecutor
    from suanli.agent.runner import Agent, AgentFatal

    if backend != "local":
        raise error(f"unknown backend {backend!r}; this release has: local", code=EXIT_BAD_INPUT)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s suanli-agent %(levelname)s %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per heartbeat
    root = (work_dir or _default_work_dir()).expanduser()
    executor = LocalExecutor(root, declared=accelerators, stop_grace_s=cancel_grace_s)
    client = AgentClient(server, token)
    kind = "declared" if executor.declared else f"detected ({executor.source.value})"
    capacity = ", ".join(f"{p.name}: {p.nodes} x {p.accelerators_per_node} {p.accelerator}" for p in executor.pools())

    def connected(answer: HelloAnswer) -> None:
        typer.echo(f"Suanli agent serving center {answer.center} at {client.server}; capacity {capacity} ({kind})")

    runner = Agent(client, executor, cancel_grace_s=cancel_grace_s, on_first_hello=connected)
    stop = threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            runner.run(stop)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failure.append(exc)
            stop.set()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    thread = threading.Thread(target=serve, name="suanli-agent", daemon=True)
    thread.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        stop.set()
    finally:
        signal.signal(signal.SIGTERM, previous)
        thread.join(timeout=1.0)  # a long poll in flight is abandoned: the process exits
        executor.close()
        client.close()
    if failure:
        exc = failure[0]
        if isinstance(exc, AgentFatal):
            raise error(str(exc), code=EXIT_SERVER)
        raise exc
    typer.echo("Suanli agent stopped")
