"""The Ray executor: attempts run as Ray jobs through the Ray Jobs API (JobSubmissionClient).

Every call is HTTP to the Ray head's dashboard (default ``http://127.0.0.1:8265``) with a timeout;
no Ray driver is connected here, and Ray is imported only when the first call is made (it is the
optional ``ray`` extra). One attempt is one Ray job whose submission id is derived from the
attempt key, so a repeated start never submits twice. See docs/connect-ray.md.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from suanli.agent.backends.ray.attempt import JobLogs, RayAttempt
from suanli.agent.backends.ray.cluster import RayNode, ResourceMap, cluster_pools, largest, parse_nodes
from suanli.agent.backends.ray.entrypoint import command_line, gang_entrypoint
from suanli.agent.backends.ray.jobs import (
    RayMissing,
    RayRequestFailed,
    RayUnavailable,
    already_exists,
    call,
    make_client,
)
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState, AttemptStatus, ExecutorRefused
from suanli.domain.accelerators import CPU, AcceleratorCatalog
from suanli.domain.centers import Pool

log = logging.getLogger("suanli.agent.ray")

DELETE_AFTER_S = 30.0  # how long after forget a job's row leaves Ray's job table
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STATES = {"PENDING": AttemptState.STARTING, "RUNNING": AttemptState.RUNNING}


class RayExecutor:
    """Runs attempts as Ray jobs. Methods are meant for one agent thread (the agent's lock)."""

    name = "ray"

    def __init__(
        self,
        address: str = "http://127.0.0.1:8265",
        *,
        catalog: AcceleratorCatalog | None = None,
        models: dict[str, str] | None = None,
        resources: dict[str, str] | None = None,
        job_prefix: str = "suanli",
        pending_timeout_s: float = 300.0,
        request_timeout_s: float = 10.0,
        retry_down_s: float = 2.0,
        min_poll_interval_s: float = 0.25,
        log_refresh_s: float = 1.0,
        cluster_refresh_s: float = 30.0,
        max_workdir_mb: float = 100.0,
        gang_strategy: str = "STRICT_SPREAD",
        python: str = "python",
        stop_on_close: bool = True,
        adopt: bool = True,
        delete_on_forget: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``models``: the model of each accelerator resource when Ray does not detect it, e.g.
        ``{"GPU": "A100-80G"}``; ``resources``: the Ray resource of a model other than the default
        (GPU for NVIDIA/Hygon, NPU for Ascend, MLU for Cambricon), e.g. ``{"MLU370": "mlu370"}``."""
        self.address = address.rstrip("/")
        self.catalog = catalog if catalog is not None else AcceleratorCatalog()
        self.resource_map = ResourceMap(self.catalog, models, resources)
        self.job_prefix = job_prefix
        self.pending_timeout_s = pending_timeout_s
        self.request_timeout_s = request_timeout_s
        self.retry_down_s = retry_down_s
        self.min_poll_interval_s = min_poll_interval_s
        self.log_refresh_s = log_refresh_s
        self.cluster_refresh_s = cluster_refresh_s
        self.max_workdir_mb = max_workdir_mb
        self.gang_strategy = gang_strategy
        self.python = python
        self.stop_on_close = stop_on_close
        self._adopt = adopt
        self.delete_on_forget = delete_on_forget
        self._clock = clock
        self._client: Any = None
        self._attempts: dict[AttemptKey, RayAttempt] = {}
        self._logs: dict[AttemptKey, JobLogs] = {}
        self._nodes: list[RayNode] | None = None
        self._nodes_at = float("-inf")
        self._pools: list[Pool] = []
        self._listed_at = float("-inf")
        self._problem: str | None = None
        self._last_contact = float("-inf")
        self._last_try = float("-inf")
        self._to_delete: deque[tuple[float, str]] = deque()  # (when, submission id) of forgotten jobs

    # -- Ray calls -----------------------------------------------------------------------------

    def client(self) -> Any:
        """The JobSubmissionClient (made at the first call: its constructor asks Ray's version)."""
        if self._client is None:
            self._client = make_client(self.address, self.request_timeout_s)
        return self._client

    def _ray(self, fn: Callable[[Any], Any]) -> Any:
        """One call to Ray; keeps track of whether Ray answers. While it does not, calls fail at
        once for ``retry_down_s`` after each try, so a hung head costs one timeout per period."""
        now = self._clock()
        if self._problem is not None and now - self._last_try < self.retry_down_s:
            raise RayUnavailable(self._problem)
        self._last_try = now
        try:
            result = call(lambda: fn(self.client()))
        except RayUnavailable as error:
            self._set_problem(f"the Ray cluster at {self.address} does not answer: {error}")
            raise
        self._set_problem(None)
        self._last_contact = self._clock()
        return result

    def _set_problem(self, problem: str | None) -> None:
        if problem != self._problem:
            if problem is None:
                log.warning("the Ray cluster at %s answers again", self.address)
            else:
                log.warning("%s", problem)
        self._problem = problem

    def healthy(self) -> str | None:
        """None when the Ray head answers, else why not (the agent reports the center unhealthy).
        Asks Ray only when no call went through in the last few seconds."""
        if self._clock() - max(self._last_contact, self._last_try) > 5.0:
            with contextlib.suppress(RayUnavailable, RayRequestFailed, RayMissing):
                self._ray(lambda client: client.get_version())
        return self._problem

    def submission_id(self, key: AttemptKey) -> str:
        return f"{self.job_prefix}-{key}"

    # -- capacity ------------------------------------------------------------------------------

    def _cluster(self, *, fresh: bool = False) -> list[RayNode] | None:
        """The ALIVE nodes (State API, ``GET /api/v0/nodes``), cached for ``cluster_refresh_s``."""
        now = self._clock()
        if fresh or self._nodes is None or now - self._nodes_at >= self.cluster_refresh_s:
            try:
                response = self._ray(lambda client: client._do_request("GET", "/api/v0/nodes?limit=10000"))
                if response.status_code != 200:
                    raise RayRequestFailed(f"the Ray State API answered {response.status_code}")
                self._nodes, self._nodes_at = parse_nodes(response.json()), now
                self._pools = cluster_pools(self._nodes, self.resource_map)
            except (RayUnavailable, RayRequestFailed, ValueError) as error:
                log.debug("cannot read the Ray cluster's nodes: %s", error)
        return self._nodes

    def pools(self) -> list[Pool]:
        """The cluster's capacity as pools, from its nodes' resources; the last known pools while
        Ray does not answer. Raises RayUnavailable when Ray has never answered."""
        if self._cluster(fresh=True) is None:
            raise RayUnavailable(self._problem or f"cannot read the nodes of the Ray cluster at {self.address}")
        if self._adopt:
            self._adopt_live_jobs()
        return list(self._pools)

    def _adopt_live_jobs(self) -> None:
        """Takes back the live Ray jobs of this prefix (an agent restarted): the agent reports
        them at hello, and the server says which to keep and which to kill."""
        pattern = re.compile(rf"^{re.escape(self.job_prefix)}-job-(\d+)-attempt-(\d+)$")
        try:
            jobs = self._ray(lambda client: client.list_jobs())
        except (RayUnavailable, RayRequestFailed):
            return
        self._adopt = False
        for job in jobs:
            found = pattern.match(job.submission_id or "")
            status = str(getattr(job.status, "value", job.status))
            if found is None or status not in _STATES:
                continue
            key = AttemptKey(int(found.group(1)), int(found.group(2)))
            if key not in self._attempts:
                resource = (job.metadata or {}).get("suanli_resource", "CPU")
                self._attempts[key] = RayAttempt(key, job.submission_id, resource, "(adopted)", self._clock())
                log.info("adopted Ray job %s, still %s", job.submission_id, status)

    # -- start ---------------------------------------------------------------------------------

    def start(self, spec: AttemptSpec) -> None:
        """Submits ``spec`` as a Ray job, unless Ray already has a job for its key (adopted)."""
        if spec.key in self._attempts:
            return
        resource, amount = self._ask(spec)
        asks = f"{amount:g} {resource} per node x {spec.nodes} nodes" if spec.nodes > 1 else f"{amount:g} {resource}"
        self._check_fits(spec, resource, amount, asks)
        sid = self.submission_id(spec.key)
        attempt = RayAttempt(spec.key, sid, resource, asks, self._clock(), spec.time_limit_s)
        try:
            self._ray(lambda client: client.get_job_info(sid))
        except RayMissing:
            self._submit(spec, sid, resource, amount)
        except RayUnavailable as error:
            raise ExecutorRefused(f"the Ray cluster does not answer: {error}") from error
        except RayRequestFailed as error:
            raise ExecutorRefused(f"Ray refused {spec.key}: {error}") from error
        else:
            log.info("%s already has Ray job %s: adopting it", spec.key, sid)
        self._attempts[spec.key] = attempt

    def _ask(self, spec: AttemptSpec) -> tuple[str, float]:
        if spec.nodes < 1 or spec.accelerators_per_node < 0:
            raise ExecutorRefused(f"{spec.key}: nodes must be >= 1 and accelerators per node >= 0")
        accelerator = spec.accelerator
        if spec.pool:
            pool = next((p for p in self._pools if p.name == spec.pool), None)
            if pool is None and self._cluster(fresh=True) is not None:
                pool = next((p for p in self._pools if p.name == spec.pool), None)
                if pool is None:
                    names = ", ".join(f"{p.name} ({p.accelerator})" for p in self._pools) or "none"
                    raise ExecutorRefused(f"there is no pool {spec.pool!r} in this Ray cluster; it has {names}")
            if pool is not None:
                accelerator = pool.accelerator
        return self.resource_map.resource_for(accelerator or CPU), float(spec.accelerators_per_node)

    def _check_fits(self, spec: AttemptSpec, resource: str, amount: float, asks: str) -> None:
        """Refuses what no node (or, for a strict gang, not enough nodes) of the cluster could ever
        hold; Ray itself would leave such a job PENDING forever."""
        if amount <= 0 or self._cluster() is None:
            return  # Ray does not answer: submit anyway; the pending timeout reports it if need be
        needed = spec.nodes if spec.nodes > 1 and self.gang_strategy == "STRICT_SPREAD" else 1
        for fresh in (False, True):  # before refusing, look again: maybe a node joined
            nodes = self._cluster(fresh=fresh) or []
            most, total = largest(nodes, resource)
            fitting = sum(1 for node in nodes if node.amount(resource) >= amount)
            if fitting >= needed and amount * spec.nodes <= total:
                return
        raise ExecutorRefused(
            f"{spec.key} asks for {asks}; the Ray cluster at {self.address} can never place it: "
            f"its largest node has {most:g} {resource}, {fitting} node(s) have {amount:g}, "
            f"{total:g} {resource} in all ({len(nodes)} node(s))"
        )

    def _submit(self, spec: AttemptSpec, sid: str, resource: str, amount: float) -> None:
        env = spec.job_env()
        if bad := [name for name in env if not _ENV_NAME.match(name)]:
            raise ExecutorRefused(f"{spec.key}: environment variable names must be letters, digits and _: {bad!r}")
        # Ray expands $NAME and ${NAME} in runtime_env env_vars (os.path.expandvars), with no way to
        # escape: values holding a '$' go on the entrypoint's command line instead, through `env`.
        plain = {name: value for name, value in env.items() if "$" not in value}
        dollar = {name: value for name, value in env.items() if "$" in value}
        runtime_env: dict[str, Any] = {"env_vars": plain}
        if spec.workdir:
            runtime_env["working_dir"] = self._workdir(spec)
        options: dict[str, Any] = {}
        if spec.nodes > 1:
            entrypoint = gang_entrypoint(
                self.python, spec.command, spec.nodes, resource, amount, self.gang_strategy, dollar
            )
        else:
            entrypoint = command_line(spec.command, dollar)
            if resource == "CPU":
                options["entrypoint_num_cpus"] = amount
            elif resource == "GPU":
                options["entrypoint_num_gpus"] = amount
            elif amount > 0:
                options["entrypoint_resources"] = {resource: amount}
        metadata = {
            "suanli_job": str(spec.key.job_id),
            "suanli_attempt": str(spec.key.attempt),
            "suanli_resource": resource,
            "name": spec.name,
        }
        try:
            self._ray(
                lambda client: client.submit_job(
                    entrypoint=entrypoint, submission_id=sid, runtime_env=runtime_env, metadata=metadata, **options
                )
            )
        except RayUnavailable as error:
            raise ExecutorRefused(f"the Ray cluster does not answer: {error}") from error
        except RayRequestFailed as error:
            if already_exists(error):  # a submission of ours raced this one: the job runs once
                return
            raise ExecutorRefused(f"Ray refused {spec.key}: {error}") from error

    def _workdir(self, spec: AttemptSpec) -> str:
        """A working folder goes to the cluster as the job's runtime_env working_dir (Ray uploads
        it): it must exist here and be small."""
        path = Path(spec.workdir or "")
        if not path.is_dir():
            raise ExecutorRefused(f"{spec.key}: working folder {str(path)!r} does not exist on the agent's machine")
        size = 0
        limit = self.max_workdir_mb * 1024**2
        for root, _dirs, files in os.walk(path):
            for name in files:
                try:
                    size += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    continue
                if size > limit:
                    raise ExecutorRefused(
                        f"{spec.key}: working folder {str(path)!r} is over {self.max_workdir_mb:g} MB; "
                        "Ray uploads it with every job: put large data on shared storage"
                    )
        return str(path)

    # -- poll ----------------------------------------------------------------------------------

    def poll(self) -> list[AttemptStatus]:
        """Every known attempt's state, from ONE ``list_jobs`` call (none within
        ``min_poll_interval_s`` of the last one, and none when all are final). While Ray does not
        answer, the last known states."""
        live = [a for a in self._attempts.values() if not a.state.is_final]
        now = self._clock()
        if self._to_delete and self._to_delete[0][0] <= now:
            self._delete_due()
        if live and now - self._listed_at >= self.min_poll_interval_s:
            try:
                jobs = self._ray(lambda client: client.list_jobs())
            except (RayUnavailable, RayRequestFailed):
                pass
            else:
                self._listed_at = now
                by_id = {job.submission_id: job for job in jobs if job.submission_id}
                for attempt in live:
                    self._update(attempt, by_id.get(attempt.submission_id), now)
        return [a.status() for a in self._attempts.values()]

    def _update(self, attempt: RayAttempt, job: Any, now: float) -> None:
        if attempt.stop_reason and not attempt.stop_sent:
            self._send_stop(attempt)
        if job is None:
            attempt.state, attempt.exit_code = AttemptState.FAILED, None
            attempt.message = "Ray no longer knows this job (its head restarted without its job table?)"
            return
        status = str(getattr(job.status, "value", job.status))
        if status in _STATES:
            attempt.state = _STATES[status]
            if attempt.state is AttemptState.RUNNING:
                attempt.running_since = attempt.running_since or now
                self._enforce_time_limit(attempt, now)
            else:
                self._check_pending(attempt, job, now)
            return
        if not self._fetch_final_logs(attempt):
            return  # its output is not in hand yet: report the end once it is
        attempt.finish(status, getattr(job, "driver_exit_code", None), job.message or "")

    def _check_pending(self, attempt: RayAttempt, job: Any, now: float) -> None:
        if attempt.stop_reason is not None:
            # Ray leaves a job it never placed PENDING after stop_job: we end it ourselves.
            if now - attempt.stop_requested_at >= 1.0:
                if attempt.stop_reason == "cancelled":
                    attempt.state, attempt.message = AttemptState.CANCELLED, "cancelled before Ray started it"
                else:
                    attempt.state = AttemptState.FAILED
            return
        if now - attempt.submitted_at < self.pending_timeout_s:
            return
        nodes = self._cluster() or []
        resource = attempt.resource
        most, total = largest(nodes, resource)
        attempt.message = (
            f"Ray did not start it in {self.pending_timeout_s:g} s: it asks for {attempt.asks}; the cluster's "
            f"largest node has {most:g} {resource}, {total:g} in all; Ray says: {job.message or 'PENDING'}"
        )
        self._request_stop(attempt, "pending", now)

    def _enforce_time_limit(self, attempt: RayAttempt, now: float) -> None:
        limit = attempt.time_limit_s
        if limit is not None and attempt.stop_reason is None and now - (attempt.running_since or now) > limit:
            self._request_stop(attempt, "time", now)

    def _request_stop(self, attempt: RayAttempt, reason: str, now: float) -> None:
        attempt.stop_reason, attempt.stop_requested_at, attempt.stop_sent = reason, now, False
        self._send_stop(attempt)

    def _send_stop(self, attempt: RayAttempt) -> None:
        try:
            self._ray(lambda client: client.stop_job(attempt.submission_id))
        except RayMissing:
            attempt.stop_sent = True
        except (RayUnavailable, RayRequestFailed) as error:
            log.debug("cannot stop %s yet: %s", attempt.submission_id, error)
        else:
            attempt.stop_sent = True

    # -- logs ----------------------------------------------------------------------------------

    def _fetch_final_logs(self, attempt: RayAttempt) -> bool:
        logs = self._logs.setdefault(attempt.key, JobLogs())
        if logs.complete:
            return True
        try:
            text = self._ray(lambda client: client.get_job_logs(attempt.submission_id))
        except RayMissing:
            text = ""
        except (RayUnavailable, RayRequestFailed):
            return False
        logs.grow(text)
        logs.fetched_at, logs.complete = self._clock(), True
        return True

    def read_logs(self, key: AttemptKey, offset: int, limit: int = 65536) -> bytes:
        """A slice of the job's output. Ray's ``get_job_logs`` returns the WHOLE text each time,
        so it is fetched at most once per ``log_refresh_s`` per running attempt and sliced here;
        an ended attempt's output is fetched once, before its end is reported."""
        logs = self._logs.setdefault(key, JobLogs())
        if offset >= len(logs.data) and not logs.complete and self._clock() - logs.fetched_at >= self.log_refresh_s:
            logs.fetched_at = self._clock()
            sid = self._attempts[key].submission_id if key in self._attempts else self.submission_id(key)
            with contextlib.suppress(RayUnavailable, RayRequestFailed, RayMissing):
                logs.grow(self._ray(lambda client: client.get_job_logs(sid)))
        return logs.data[offset : offset + max(0, limit)]

    # -- cancel and bookkeeping ----------------------------------------------------------------

    def cancel(self, key: AttemptKey, grace_s: float = 10.0) -> None:
        """Asks Ray to stop the job (SIGTERM, then SIGKILL after Ray's own grace, 3 s by default:
        ``RAY_JOB_STOP_WAIT_TIME_S`` on the head; the Jobs API takes no per-call grace)."""
        attempt = self._attempts.get(key)
        if attempt is None or attempt.state.is_final or attempt.stop_reason == "cancelled":
            return
        self._request_stop(attempt, "cancelled", self._clock())

    def forget(self, key: AttemptKey) -> None:
        attempt = self._attempts.get(key)
        if attempt is not None and not attempt.state.is_final:
            raise ValueError(f"{key} is still running; cancel it and wait for a final state first")
        self._attempts.pop(key, None)
        self._logs.pop(key, None)
        if attempt is not None and self.delete_on_forget:
            # Ray's job table only grows, and list_jobs (every poll) returns all of it: drop the
            # row (not the log file on the head) once the server holds the outcome and the output.
            # Later, not now: deleted right at its end, Ray writes the row again as FAILED
            # (JOB_SUPERVISOR_ACTOR_DIED) when its supervisor actor exits.
            self._to_delete.append((self._clock() + DELETE_AFTER_S, attempt.submission_id))
        self._delete_due()

    def _delete_due(self) -> None:
        while self._to_delete and self._to_delete[0][0] <= self._clock():
            _, sid = self._to_delete.popleft()
            try:
                self._ray(functools.partial(_delete_job, sid=sid))
            except RayUnavailable:
                self._to_delete.appendleft((self._clock() + DELETE_AFTER_S, sid))
                return
            except (RayRequestFailed, RayMissing) as error:
                log.debug("cannot delete Ray job %s: %s", sid, error)

    def close(self) -> None:
        """Stops every live attempt (best effort) and marks it CANCELLED: the agent is stopping.
        With ``stop_on_close=False`` they keep running in Ray, and the next agent with the same
        job prefix adopts them at its first ``pools()``."""
        if not self.stop_on_close:
            return
        for attempt in self._attempts.values():
            if not attempt.state.is_final:
                self._request_stop(attempt, "cancelled", self._clock())
                attempt.state, attempt.message = AttemptState.CANCELLED, "the executor was closed"

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _delete_job(client: Any, sid: str) -> Any:
    return client.delete_job(sid)
