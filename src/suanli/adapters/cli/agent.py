"""`suanli agent`: join this machine to a Suanli server as a compute center's agent."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from suanli.adapters.cli.output import EXIT_BAD_INPUT, EXIT_SERVER, State, error
from suanli.agent.executor import Executor
from suanli.agent.log_lines import configure_logging, escape_controls
from suanli.client import DEFAULT_SERVER
from suanli.domain.centers import Pool
from suanli.domain.errors import InvalidSpec
from suanli.settings import private_home

log = logging.getLogger("suanli.agent")


def _default_work_dir() -> Path:
    home = os.environ.get("SUANLI_HOME")
    return (Path(home) if home else Path.home() / ".suanli") / "agent"


BACKENDS = ("local", "slurm", "kubernetes", "ray")
RAY_ADDRESS = "http://127.0.0.1:8265"


def agent(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="SUANLI_SERVER",
            help="the Suanli server's URL, e.g. https://suanli.example.org; as `suanli --server` "
            f"[default: {DEFAULT_SERVER}]",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="SUANLI_AGENT_TOKEN",
            help="the center's token (`suanli center token NAME`); or set SUANLI_AGENT_TOKEN, or use --token-file",
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="a file that only its owner may read (mode 0600) holding the center's token"),
    ] = None,
    token_fd: Annotated[int | None, typer.Option("--token-fd", hidden=True)] = None,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            help="where attempts run: local (processes here), slurm (sbatch, on a login node), "
            "kubernetes (batch/v1 Jobs), ray (Ray jobs through the Jobs API)",
        ),
    ] = "local",
    accelerators: Annotated[
        str | None,
        typer.Option(
            "--accelerators",
            help="local: declare MODEL:N accelerator slots (e.g. A100-80G:4), or MODEL:NODESxN node slots for "
            "gangs (e.g. CPU:2x1), instead of detecting GPUs",
        ),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="attempts' working folders and logs [default: $SUANLI_HOME/agent]"),
    ] = None,
    cancel_grace_s: Annotated[
        float, typer.Option("--cancel-grace", min=0, help="seconds between SIGTERM and SIGKILL on cancel")
    ] = 10.0,
    run_as: Annotated[
        str | None,
        typer.Option(
            "--run-as",
            help="local: run jobs as this unprivileged user (the agent must run as root; docs/local-executor.md)",
        ),
    ] = None,
    gpu_model: Annotated[
        str | None,
        typer.Option(
            "--gpu-model",
            help="slurm, kubernetes, ray: the catalog model of GPUs the cluster does not name, e.g. A100-80G",
        ),
    ] = None,
    partition: Annotated[
        list[str] | None,
        typer.Option("--partition", help="slurm: a partition to offer (repeat it); default: all that sinfo shows"),
    ] = None,
    slurm_account: Annotated[str | None, typer.Option("--slurm-account", help="slurm: sbatch --account")] = None,
    slurm_qos: Annotated[str | None, typer.Option("--slurm-qos", help="slurm: sbatch --qos")] = None,
    slurm_python: Annotated[
        str, typer.Option("--slurm-python", help="slurm: the Python 3.6+ that runs the launcher on compute nodes")
    ] = "python3",
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="kubernetes: kubeconfig file [default: in-cluster or ~/.kube]")
    ] = None,
    kube_context: Annotated[str | None, typer.Option("--kube-context", help="kubernetes: kubeconfig context")] = None,
    namespace: Annotated[str, typer.Option("--namespace", help="kubernetes: namespace of the Jobs")] = "suanli",
    image: Annotated[str, typer.Option("--image", help="kubernetes: container image of the Jobs")] = "python:3.11-slim",
    pool_label: Annotated[
        str | None, typer.Option("--pool-label", help="kubernetes: node label that splits nodes into pools")
    ] = None,
    service_account: Annotated[
        str | None, typer.Option("--service-account", help="kubernetes: service account of the Jobs' pods")
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option("--ray-address", help=f"ray: the Ray dashboard (Jobs API) [default: {RAY_ADDRESS}]"),
    ] = None,
    ray_resource: Annotated[
        list[str] | None,
        typer.Option(
            "--ray-resource", help="ray: MODEL=RESOURCE, the Ray resource that stands for a model (repeat it)"
        ),
    ] = None,
    ray_job_prefix: Annotated[
        str | None,
        typer.Option(
            "--ray-job-prefix", help="ray: prefix of the Ray submission ids, one per center [default: suanli]"
        ),
    ] = None,
    ray_pending_timeout: Annotated[
        float | None,
        typer.Option("--ray-pending-timeout", min=1, help="ray: seconds Ray may leave a job PENDING [default: 300]"),
    ] = None,
    ray_gang_strategy: Annotated[
        str | None,
        typer.Option("--ray-gang-strategy", help="ray: STRICT_SPREAD (a node per rank, default), SPREAD or PACK"),
    ] = None,
    ray_python: Annotated[
        str | None,
        typer.Option("--ray-python", help="ray: the Python with Ray on the nodes, for gangs [default: python]"),
    ] = None,
) -> None:
    """Run a center's agent: connects OUT to the server, takes work, runs it on a backend.

    It needs outbound HTTP(S) to the server only, and survives the server going away (retries, says hello again). On Ctrl-C or SIGTERM it stops and leaves the attempts running: the next agent of the center adopts them (docs/agent.md). Each backend's options start with its name in --help.

    Example: suanli agent --server http://10.0.0.5:8642 --token-file /etc/suanli/token --accelerators A100-80G:2

    Slurm, on a login node (docs/connect-slurm.md): suanli agent --server URL --backend slurm --partition gpu --gpu-model A100-80G --work-dir /shared/suanli

    Kubernetes (docs/connect-kubernetes.md): suanli agent --server URL --backend kubernetes --namespace suanli --image pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime

    Ray (docs/connect-ray.md): suanli agent --server URL --backend ray --ray-address http://127.0.0.1:8265 --gpu-model A100-80G
    """  # noqa: E501
    from suanli.agent.client import AgentClient, HelloAnswer
    from suanli.agent.runner import Agent

    if backend not in BACKENDS:
        raise error(f"unknown backend {backend!r}; this release has: {', '.join(BACKENDS)}", code=EXIT_BAD_INPUT)
    given = {
        "--accelerators": (accelerators, "local"),
        "--run-as": (run_as, "local"),
        "--partition": (partition, "slurm"),
        "--slurm-account": (slurm_account, "slurm"),
        "--slurm-qos": (slurm_qos, "slurm"),
        "--kubeconfig": (kubeconfig, "kubernetes"),
        "--kube-context": (kube_context, "kubernetes"),
        "--pool-label": (pool_label, "kubernetes"),
        "--service-account": (service_account, "kubernetes"),
        "--ray-address": (ray_address, "ray"),
        "--ray-resource": (ray_resource, "ray"),
        "--ray-job-prefix": (ray_job_prefix, "ray"),
        "--ray-pending-timeout": (ray_pending_timeout, "ray"),
        "--ray-gang-strategy": (ray_gang_strategy, "ray"),
        "--ray-python": (ray_python, "ray"),
    }
    for option, (value, owner) in given.items():
        if value and owner != backend:
            raise error(f"{option} is for --backend {owner}, not {backend}", code=EXIT_BAD_INPUT)
    if gpu_model and backend == "local":
        raise error(
            "--gpu-model is for --backend slurm, kubernetes or ray; use --accelerators here", code=EXIT_BAD_INPUT
        )
    secret = _token(token, token_file, token_fd)
    configure_logging(logging.INFO, "suanli-agent")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per heartbeat
    if work_dir is None:
        private_home(_default_work_dir().parent)
    root = (work_dir or _default_work_dir()).expanduser()
    executor: Executor
    if backend == "slurm":
        from suanli.agent.slurm import SlurmExecutor

        executor = SlurmExecutor(
            root, partitions=partition, gpu_model=gpu_model, account=slurm_account, qos=slurm_qos, python=slurm_python
        )
        kind = "from sinfo"
    elif backend == "kubernetes":
        from suanli.agent.kubernetes import KubernetesExecutor

        try:
            executor = KubernetesExecutor(
                kubeconfig=str(kubeconfig) if kubeconfig else None,
                context=kube_context,
                namespace=namespace,
                image=image,
                pool_label=pool_label,
                gpu_model=gpu_model,
                service_account=service_account,
                stop_grace_s=cancel_grace_s,
            )
        except Exception as bad:  # the client's own config errors: a missing or broken kubeconfig
            raise error(f"cannot load the Kubernetes client configuration: {bad}", code=EXIT_BAD_INPUT) from None
        kind = "from the cluster's nodes"
    elif backend == "ray":
        from suanli.agent.ray_executor import RayExecutor

        address = ray_address or RAY_ADDRESS
        executor = RayExecutor(
            address,
            models={"GPU": gpu_model} if gpu_model else None,
            resources=_ray_resources(ray_resource or []),
            job_prefix=ray_job_prefix or "suanli",
            pending_timeout_s=ray_pending_timeout or 300.0,
            gang_strategy=_ray_gang_strategy(ray_gang_strategy or "STRICT_SPREAD"),
            python=ray_python or "python",
        )
        kind = f"from the Ray cluster at {address}"
    else:
        from suanli.agent.local import LocalExecutor

        try:
            local = LocalExecutor(root, declared=accelerators, stop_grace_s=cancel_grace_s, run_as=run_as)
        except ValueError as bad:
            raise error(str(bad), code=EXIT_BAD_INPUT) from None
        executor, kind = local, "declared" if local.declared else f"detected ({local.source.value})"
        if run_as:
            kind += f"; jobs run as {run_as}"
    pools = _first_pools(executor, backend)
    client = AgentClient(_server_url(ctx, server), secret)
    capacity = ", ".join(f"{p.name}: {p.nodes} x {p.accelerators_per_node} {p.accelerator}" for p in pools)

    def connected(answer: HelloAnswer) -> None:
        use_center = getattr(executor, "use_center", None)  # backends that label their jobs with it
        if use_center is not None:
            use_center(answer.center)
        center = escape_controls(answer.center)
        typer.echo(f"Suanli agent serving center {center} at {client.server}; capacity {capacity} ({kind})")

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
        _let_go(executor, refused=_token_refused(failure))
        client.close()
    raise_failure(failure)
    typer.echo("Suanli agent stopped")


def _token(token: str | None, token_file: Path | None, token_fd: int | None) -> str:
    """The center's token, from exactly one source. One given in the environment or on the
    command line makes this command start afresh without it (token_source.py), so that no job
    finds it in /proc of its ancestors."""
    from suanli.agent.token_source import read_token_fd, read_token_file, restart_without_token

    sources = [("--token", token), ("--token-file", token_file), ("--token-fd", token_fd)]
    given = [name for name, value in sources if value is not None and value != ""]
    if len(given) > 1:
        raise error(
            f"give the token one way, not {' and '.join(given)} (SUANLI_AGENT_TOKEN counts as --token)",
            code=EXIT_BAD_INPUT,
        )
    try:
        if token_fd is not None:
            return read_token_fd(token_fd)
        if token_file is not None:
            return read_token_file(token_file.expanduser())
    except ValueError as bad:
        raise error(str(bad), code=EXIT_BAD_INPUT) from None
    if token:
        restart_without_token(token)
    raise error(
        "the center's token is missing: give --token-file PATH or set SUANLI_AGENT_TOKEN "
        "(`suanli center token NAME` mints one)",
        code=EXIT_BAD_INPUT,
    )


def _token_refused(failure: list[BaseException]) -> bool:
    from suanli.agent.client import AgentApiError

    cause = failure[0].__cause__ if failure else None
    return isinstance(cause, AgentApiError) and cause.status == 401


def _let_go(executor: Executor, *, refused: bool) -> None:
    """At a graceful stop, a local executor leaves its attempts running for the next agent of
    the center to adopt, as after a kill -9. When the server refused this agent's token (it was
    revoked) they are stopped instead: the next agent holds another token, so another owner
    tag, and would never adopt them. Other backends stop theirs (``close``), as before."""
    detach = getattr(executor, "detach", None)
    if detach is not None and not refused:
        detach()
    else:
        executor.close()


def _server_url(ctx: typer.Context, server: str | None) -> str:
    """``suanli agent --server``, else the global ``suanli --server`` (or SUANLI_SERVER), else
    the local default: where every other command looks."""
    shared = ctx.obj.server if isinstance(ctx.obj, State) else None
    return server or shared or DEFAULT_SERVER


def raise_failure(failure: list[BaseException]) -> None:
    """Re-raises what ended an agent thread: a refusal by the server as a one-line error."""
    from suanli.agent.runner import AgentFatal

    if failure:
        if isinstance(failure[0], AgentFatal):
            raise error(str(failure[0]), code=EXIT_SERVER)
        raise failure[0]


def _first_pools(executor: Executor, backend: str) -> list[Pool]:
    """The backend's capacity, read once before connecting, so that a wrong option or an
    unreachable cluster is a clear error now rather than a silent agent."""
    try:
        pools = executor.pools()
    except (InvalidSpec, ValueError) as bad:
        executor.close()
        raise error(str(bad), code=EXIT_BAD_INPUT) from None
    except Exception as down:  # each backend's "cannot reach the cluster"
        executor.close()
        raise error(f"cannot read the {backend} cluster's capacity: {down}", code=EXIT_SERVER) from None
    if not pools:
        executor.close()
        raise error(f"the {backend} backend offers no pool (check its options)", code=EXIT_BAD_INPUT)
    return pools


def _ray_resources(items: list[str]) -> dict[str, str]:
    resources = {}
    for item in items:
        model, sep, resource = item.partition("=")
        if not (model.strip() and sep and resource.strip()):
            raise error(f"--ray-resource takes MODEL=RESOURCE, e.g. MLU370=MLU; got {item!r}", code=EXIT_BAD_INPUT)
        resources[model.strip()] = resource.strip()
    return resources


def _ray_gang_strategy(strategy: str) -> str:
    if strategy not in ("STRICT_SPREAD", "SPREAD", "PACK", "STRICT_PACK"):
        raise error(
            f"--ray-gang-strategy takes STRICT_SPREAD, SPREAD, PACK or STRICT_PACK; got {strategy!r}",
            code=EXIT_BAD_INPUT,
        )
    return strategy
