"""`suanli agent`: join this machine to a Suanli server as a compute center's agent."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from suanli.adapters.cli.agent_threads import AgentThreads, stop_on_signals
from suanli.adapters.cli.output import EXIT_BAD_INPUT, EXIT_SERVER, State, error
from suanli.agent.backends import Backend, BackendOptions, BadOption, UnknownBackend, backend_factory
from suanli.agent.backends.options import RAY_ADDRESS
from suanli.agent.log_lines import configure_logging, escape_controls
from suanli.client import DEFAULT_SERVER
from suanli.domain.errors import InvalidSpec
from suanli.settings import private_home

if TYPE_CHECKING:
    from suanli.agent.executor import Executor
    from suanli.domain.centers import Pool

# The options, one type each, so that the command's signature reads as a list.
ServerUrl = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="SUANLI_SERVER",
        help="the Suanli server's URL, e.g. https://suanli.example.org; as `suanli --server` "
        f"[default: {DEFAULT_SERVER}]",
    ),
]
Token = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SUANLI_AGENT_TOKEN",
        help="the center's token (`suanli center token NAME`); or set SUANLI_AGENT_TOKEN, or use --token-file",
    ),
]
TokenFile = Annotated[
    Path | None,
    typer.Option("--token-file", help="a file that only its owner may read (mode 0600) holding the center's token"),
]
TokenFd = Annotated[int | None, typer.Option("--token-fd", hidden=True)]
BackendName = Annotated[
    str,
    typer.Option(
        "--backend",
        help="where attempts run: local (processes here), slurm (sbatch, on a login node), "
        "kubernetes (batch/v1 Jobs), ray (Ray jobs through the Jobs API)",
    ),
]
Accelerators = Annotated[
    str | None,
    typer.Option(
        "--accelerators",
        help="local: declare MODEL:N accelerator slots (e.g. A100-80G:4), or MODEL:NODESxN node slots for "
        "gangs (e.g. CPU:2x1), instead of detecting GPUs",
    ),
]
WorkDir = Annotated[
    Path | None,
    typer.Option("--work-dir", help="attempts' working folders and logs [default: $SUANLI_HOME/agent]"),
]
CancelGrace = Annotated[
    float, typer.Option("--cancel-grace", min=0, help="seconds between SIGTERM and SIGKILL on cancel")
]
RunAs = Annotated[
    str | None,
    typer.Option(
        "--run-as",
        help="local: run jobs as this unprivileged user (the agent must run as root; docs/local-executor.md)",
    ),
]
GpuModel = Annotated[
    str | None,
    typer.Option(
        "--gpu-model",
        help="slurm, kubernetes, ray: the catalog model of GPUs the cluster does not name, e.g. A100-80G",
    ),
]
Partitions = Annotated[
    list[str] | None,
    typer.Option("--partition", help="slurm: a partition to offer (repeat it); default: all that sinfo shows"),
]
SlurmAccount = Annotated[str | None, typer.Option("--slurm-account", help="slurm: sbatch --account")]
SlurmQos = Annotated[str | None, typer.Option("--slurm-qos", help="slurm: sbatch --qos")]
SlurmPython = Annotated[
    str, typer.Option("--slurm-python", help="slurm: the Python 3.6+ that runs the launcher on compute nodes")
]
Kubeconfig = Annotated[
    Path | None, typer.Option("--kubeconfig", help="kubernetes: kubeconfig file [default: in-cluster or ~/.kube]")
]
KubeContext = Annotated[str | None, typer.Option("--kube-context", help="kubernetes: kubeconfig context")]
Namespace = Annotated[str, typer.Option("--namespace", help="kubernetes: namespace of the Jobs")]
Image = Annotated[str, typer.Option("--image", help="kubernetes: container image of the Jobs")]
PoolLabel = Annotated[
    str | None, typer.Option("--pool-label", help="kubernetes: node label that splits nodes into pools")
]
ServiceAccount = Annotated[
    str | None, typer.Option("--service-account", help="kubernetes: service account of the Jobs' pods")
]
RayAddress = Annotated[
    str | None,
    typer.Option("--ray-address", help=f"ray: the Ray dashboard (Jobs API) [default: {RAY_ADDRESS}]"),
]
RayResources = Annotated[
    list[str] | None,
    typer.Option("--ray-resource", help="ray: MODEL=RESOURCE, the Ray resource that stands for a model (repeat it)"),
]
RayJobPrefix = Annotated[
    str | None,
    typer.Option("--ray-job-prefix", help="ray: prefix of the Ray submission ids, one per center [default: suanli]"),
]
RayPendingTimeout = Annotated[
    float | None,
    typer.Option("--ray-pending-timeout", min=1, help="ray: seconds Ray may leave a job PENDING [default: 300]"),
]
RayGangStrategy = Annotated[
    str | None,
    typer.Option("--ray-gang-strategy", help="ray: STRICT_SPREAD (a node per rank, default), SPREAD or PACK"),
]
RayPython = Annotated[
    str | None,
    typer.Option("--ray-python", help="ray: the Python with Ray on the nodes, for gangs [default: python]"),
]

# Options of one backend (BackendOptions' fields), which are a mistake with another.
OWNED_OPTIONS = {
    "accelerators": ("--accelerators", "local"),
    "run_as": ("--run-as", "local"),
    "partitions": ("--partition", "slurm"),
    "slurm_account": ("--slurm-account", "slurm"),
    "slurm_qos": ("--slurm-qos", "slurm"),
    "kubeconfig": ("--kubeconfig", "kubernetes"),
    "kube_context": ("--kube-context", "kubernetes"),
    "pool_label": ("--pool-label", "kubernetes"),
    "service_account": ("--service-account", "kubernetes"),
    "ray_address": ("--ray-address", "ray"),
    "ray_resources": ("--ray-resource", "ray"),
    "ray_job_prefix": ("--ray-job-prefix", "ray"),
    "ray_pending_timeout_s": ("--ray-pending-timeout", "ray"),
    "ray_gang_strategy": ("--ray-gang-strategy", "ray"),
    "ray_python": ("--ray-python", "ray"),
}


def _default_work_dir() -> Path:
    home = os.environ.get("SUANLI_HOME")
    return (Path(home) if home else Path.home() / ".suanli") / "agent"


def agent(
    ctx: typer.Context,
    server: ServerUrl = None,
    token: Token = None,
    token_file: TokenFile = None,
    token_fd: TokenFd = None,
    backend: BackendName = "local",
    accelerators: Accelerators = None,
    work_dir: WorkDir = None,
    cancel_grace_s: CancelGrace = 10.0,
    run_as: RunAs = None,
    gpu_model: GpuModel = None,
    partition: Partitions = None,
    slurm_account: SlurmAccount = None,
    slurm_qos: SlurmQos = None,
    slurm_python: SlurmPython = "python3",
    kubeconfig: Kubeconfig = None,
    kube_context: KubeContext = None,
    namespace: Namespace = "suanli",
    image: Image = "python:3.11-slim",
    pool_label: PoolLabel = None,
    service_account: ServiceAccount = None,
    ray_address: RayAddress = None,
    ray_resource: RayResources = None,
    ray_job_prefix: RayJobPrefix = None,
    ray_pending_timeout: RayPendingTimeout = None,
    ray_gang_strategy: RayGangStrategy = None,
    ray_python: RayPython = None,
) -> None:
    """Run a center's agent: connects OUT to the server, takes work, runs it on a backend.

    It needs outbound HTTP(S) to the server only, and survives the server going away (retries, says hello again). On Ctrl-C or SIGTERM it stops and leaves the attempts running: the next agent of the center adopts them (docs/agent.md). Each backend's options start with its name in --help.

    Example: suanli agent --server http://10.0.0.5:8642 --token-file /etc/suanli/token --accelerators A100-80G:2

    Slurm, on a login node (docs/connect-slurm.md): suanli agent --server URL --backend slurm --partition gpu --gpu-model A100-80G --work-dir /shared/suanli

    Kubernetes (docs/connect-kubernetes.md): suanli agent --server URL --backend kubernetes --namespace suanli --image pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime

    Ray (docs/connect-ray.md): suanli agent --server URL --backend ray --ray-address http://127.0.0.1:8265 --gpu-model A100-80G
    """  # noqa: E501
    options = BackendOptions(
        work_dir=(work_dir or _default_work_dir()).expanduser(),
        cancel_grace_s=cancel_grace_s,
        gpu_model=gpu_model,
        accelerators=accelerators,
        run_as=run_as,
        partitions=tuple(partition or ()),
        slurm_account=slurm_account,
        slurm_qos=slurm_qos,
        slurm_python=slurm_python,
        kubeconfig=kubeconfig,
        kube_context=kube_context,
        namespace=namespace,
        image=image,
        pool_label=pool_label,
        service_account=service_account,
        ray_address=ray_address,
        ray_resources=tuple(ray_resource or ()),
        ray_job_prefix=ray_job_prefix,
        ray_pending_timeout_s=ray_pending_timeout,
        ray_gang_strategy=ray_gang_strategy,
        ray_python=ray_python,
    )
    _check_options(backend, options)
    secret = _token(token, token_file, token_fd)
    if work_dir is None:
        private_home(_default_work_dir().parent)
    _run(_server_url(ctx, server), secret, backend, options)


def _check_options(backend: str, options: BackendOptions) -> None:
    """The backend is one this release has, and no option of another backend was given."""
    try:
        backend_factory(backend)
    except UnknownBackend as unknown:
        raise error(str(unknown), code=EXIT_BAD_INPUT) from None
    for name, (option, owner) in OWNED_OPTIONS.items():
        if getattr(options, name) and owner != backend:
            raise error(f"{option} is for --backend {owner}, not {backend}", code=EXIT_BAD_INPUT)
    if options.gpu_model and backend == "local":
        raise error(
            "--gpu-model is for --backend slurm, kubernetes or ray; use --accelerators here", code=EXIT_BAD_INPUT
        )


def _run(server: str, secret: str, backend: str, options: BackendOptions) -> None:
    """Builds the backend's executor, connects to the server and serves until a stop."""
    from suanli.agent.client import AgentClient, HelloAnswer
    from suanli.agent.runner import Agent

    configure_logging(logging.INFO, "suanli-agent")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per heartbeat
    made = _build(backend, options)
    executor = made.executor
    pools = _first_pools(executor, backend)
    client = AgentClient(server, secret)
    capacity = ", ".join(f"{p.name}: {p.nodes} x {p.accelerators_per_node} {p.accelerator}" for p in pools)

    def connected(answer: HelloAnswer) -> None:
        use_center = getattr(executor, "use_center", None)  # backends that label their jobs with it
        if use_center is not None:
            use_center(answer.center)
        center = escape_controls(answer.center)
        typer.echo(f"Suanli agent serving center {center} at {client.server}; capacity {capacity} ({made.capacity})")

    runner = Agent(client, executor, cancel_grace_s=options.cancel_grace_s, on_first_hello=connected)
    agents = AgentThreads()
    try:
        with stop_on_signals(agents.stop, signal.SIGTERM):  # Ctrl-C: agents.wait
            agents.start("suanli-agent", runner.run)
            agents.wait()
    finally:
        agents.join(1.0)  # a long poll in flight is abandoned: the process exits
        _let_go(executor, refused=_token_refused(agents.failure))
        client.close()
    agents.raise_failure()
    typer.echo("Suanli agent stopped")


def _build(backend: str, options: BackendOptions) -> Backend:
    try:
        return backend_factory(backend)(options)
    except BadOption as bad:
        raise error(str(bad), code=EXIT_BAD_INPUT) from None


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
