"""The Kubernetes executor: attempts become batch/v1 Jobs, through the official ``kubernetes``
client (an optional extra, imported only when this executor is built). See
docs/connect-kubernetes.md.

- ``start`` creates the Job ``suanli-<job>-<attempt>`` (a gang: an Indexed Job and a headless
  Service); the name is the attempt key, so creating it twice is harmless (409 is success).
  A create that got no answer is retried by later polls under the same name.
- ``poll`` lists this agent's Jobs once (one call, label selector) at most every
  ``poll_interval_s``; a Job that fails costs one more call, for its pods' exit code.
- When the API server does not answer, nothing changes: attempts keep their last state,
  ``healthy()`` says what is wrong, and the next answer settles everything once. Every call has
  a timeout and no retries of its own.
- Tested against an API emulator (kmock), not a real cluster: see the docs for what that leaves
  untested.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from suanli.agent.backends.kubernetes.api import ApiCaller, KubernetesUnavailable, Rejected, make_api_client, module
from suanli.agent.backends.kubernetes.objects import (
    CONTAINER,
    JOB_NAME_LABELS,
    JobShape,
    completion_index,
    job_manifest,
    job_name,
    job_state,
    matches,
    pod_exit_code,
    resource_limits,
    selector,
    service_manifest,
)
from suanli.agent.backends.kubernetes.pools import Placement, pools_from_nodes
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState, AttemptStatus, ExecutorRefused
from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.centers import Pool
from suanli.domain.errors import InvalidSpec

__all__ = ["KubernetesExecutor", "KubernetesUnavailable", "make_api_client"]

DEFAULT_IMAGE = "python:3.11-slim"


@dataclass
class _Attempt:
    spec: AttemptSpec
    namespace: str
    shape: JobShape
    limits: dict[str, str]
    created: bool = False  # the API server has the Job (201, or 409 for this name)
    uid: str | None = None  # the Job's, for the gang Service's owner reference
    service_pending: bool = False  # a gang's headless Service still to be created
    state: AttemptState = AttemptState.STARTING
    exit_code: int | None = None
    message: str = ""
    cancelled: bool = False
    delete_sent: bool = False
    logs: bytearray = field(default_factory=bytearray)
    log_offsets: dict[str, int] = field(default_factory=dict)  # bytes of each pod's log taken
    logs_at: float = -math.inf
    logs_final: bool = False

    @property
    def name(self) -> str:
        return job_name(self.spec.key)

    def status(self) -> AttemptStatus:
        return AttemptStatus(self.spec.key, self.state, self.exit_code, self.message)

    def end(self, state: AttemptState, exit_code: int | None, message: str) -> None:
        self.state, self.exit_code, self.message = state, exit_code, message


class KubernetesExecutor:
    """Runs attempts as Kubernetes Jobs. Methods are meant for one agent thread; none blocks
    longer than ``connect_timeout_s + request_timeout_s`` per API call."""

    name = "kubernetes"

    def __init__(
        self,
        api_client: Any | None = None,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        namespace: str = "suanli",
        image: str = DEFAULT_IMAGE,
        center: str = "",
        pool_label: str | None = None,
        gpu_model: str | None = None,
        service_account: str | None = None,
        catalog: AcceleratorCatalog | None = None,
        price_per_accelerator_hour: float = 0.0,
        poll_interval_s: float = 1.0,
        retry_s: float = 5.0,
        log_refresh_s: float = 2.0,
        connect_timeout_s: float = 3.0,
        request_timeout_s: float = 10.0,
        ttl_after_finished_s: int | None = 86400,
        stop_grace_s: float = 10.0,
        master_port: int = 29500,
    ) -> None:
        client = module("kubernetes.client")
        self.api_client = api_client if api_client is not None else make_api_client(kubeconfig, context)
        self.batch: Any = client.BatchV1Api(self.api_client)
        self.core: Any = client.CoreV1Api(self.api_client)
        self.namespace, self.image, self.center = namespace, image, center
        self.pool_label, self.gpu_model, self.service_account = pool_label, gpu_model, service_account
        self.catalog = AcceleratorCatalog(list(catalog if catalog is not None else AcceleratorCatalog()))
        self.price = price_per_accelerator_hour
        self.poll_interval_s, self.retry_s, self.log_refresh_s = poll_interval_s, retry_s, log_refresh_s
        self._call = ApiCaller((connect_timeout_s, request_timeout_s))
        self.ttl_after_finished_s, self.master_port = ttl_after_finished_s, master_port
        self.stop_grace_s = stop_grace_s
        self.selector = selector(center)
        self._attempts: dict[AttemptKey, _Attempt] = {}
        self._pools: dict[str, Pool] = {}
        self._placements: dict[str, Placement] = {}
        self._problem: str | None = None
        self._last_query = -math.inf

    def use_center(self, center: str) -> None:
        """Labels Jobs with the center's name from now on (the agent learns it at its first hello,
        before any attempt starts); the Job list then selects on it too."""
        if any(not attempt.state.is_final for attempt in self._attempts.values()):
            raise ValueError("the center label cannot change while attempts run")
        self.center, self.selector = center, selector(center)

    def namespace_for(self, spec: AttemptSpec) -> str:
        """The namespace of an attempt. Attempts do not carry their tenant yet, so all go to the
        executor's namespace; with a tenant, ``tenant_namespace(spec.tenant)`` is the mapping."""
        return self.namespace

    # -- health, capacity -------------------------------------------------------------------

    def healthy(self) -> str | None:
        """None while the API server answers; otherwise what went wrong the last time."""
        return self._problem

    def pools(self) -> list[Pool]:
        """Pools from the nodes (one list call). When the API server does not answer, the pools
        it last gave; KubernetesUnavailable if it never answered."""
        try:
            nodes = self._call(self.core.list_node).get("items") or []
        except (KubernetesUnavailable, Rejected) as error:
            self._problem = f"listing nodes failed: {error}"
            if self._pools:
                return list(self._pools.values())
            raise KubernetesUnavailable(self._problem) from error
        self._pools, self._placements = pools_from_nodes(
            nodes, self.catalog, pool_label=self.pool_label, gpu_model=self.gpu_model, price=self.price
        )
        return list(self._pools.values())

    # -- start ------------------------------------------------------------------------------

    def start(self, spec: AttemptSpec) -> None:
        """Creates the attempt's Job. A key already known is not created again. A Job the API
        server refuses (4xx) makes a FAILED attempt with its message; no answer leaves it
        STARTING, created by a later poll."""
        if spec.key in self._attempts:
            return
        if spec.nodes < 1 or spec.accelerators_per_node < 0:
            raise ExecutorRefused(f"{spec.key}: nodes must be >= 1 and accelerators per node >= 0")
        try:
            limits = resource_limits(spec, self.catalog)
        except (ValueError, InvalidSpec) as error:
            raise ExecutorRefused(f"{spec.key}: {error}") from error
        namespace = self.namespace_for(spec)
        shape = JobShape(
            namespace=namespace,
            image=self.image,
            center=self.center,
            affinity=self._affinity(spec),
            service_account=self.service_account,
            ttl_after_finished_s=self.ttl_after_finished_s,
            stop_grace_s=self.stop_grace_s,
            master_port=self.master_port,
        )
        attempt = _Attempt(spec, namespace, shape, limits, service_pending=spec.nodes > 1)
        self._attempts[spec.key] = attempt
        empty = not spec.command.strip() if isinstance(spec.command, str) else not spec.command or not spec.command[0]
        if empty:
            attempt.end(AttemptState.FAILED, None, "could not start: the command is empty")
            return
        self._create(attempt)

    def _affinity(self, spec: AttemptSpec) -> dict[str, Any] | None:
        if not spec.pool:
            return None
        if not self._pools:
            try:
                self.pools()
            except (KubernetesUnavailable, ValueError):
                return None  # then the cluster's scheduler alone decides
        if spec.pool not in self._placements:
            names = ", ".join(f"{p.name} ({p.accelerator})" for p in self._pools.values()) or "none"
            raise ExecutorRefused(f"there is no pool {spec.pool!r} in this cluster; it has {names}")
        return self._placements[spec.pool].node_affinity()

    def _create(self, attempt: _Attempt) -> None:
        try:
            if not attempt.created:
                manifest = job_manifest(attempt.spec, attempt.shape, attempt.limits)
                try:
                    created = self._call(self.batch.create_namespaced_job, attempt.namespace, manifest)
                    attempt.uid = (created.get("metadata") or {}).get("uid")
                except Rejected as error:
                    if error.status != 409:  # 409: this attempt's Job exists already
                        raise
                    if attempt.service_pending:  # the Service's owner reference needs its uid
                        found = self._call(self.batch.read_namespaced_job, attempt.name, attempt.namespace)
                        attempt.uid = (found.get("metadata") or {}).get("uid")
                attempt.created = True
            if attempt.service_pending:
                service = service_manifest(attempt.spec, attempt.shape, attempt.uid)
                try:
                    self._call(self.core.create_namespaced_service, attempt.namespace, service)
                except Rejected as error:
                    if error.status != 409:
                        raise
                attempt.service_pending = False
        except KubernetesUnavailable as error:
            self._problem = f"creating Job {attempt.namespace}/{attempt.name} failed: {error}"
        except Rejected as error:
            attempt.end(AttemptState.FAILED, None, f"Kubernetes refused the Job: {error}")
            if attempt.created:
                self._delete(attempt)  # a gang without its Service cannot rendezvous

    # -- poll -------------------------------------------------------------------------------

    def poll(self) -> list[AttemptStatus]:
        """Every attempt known until ``forget``. Asks the API server (one Job list) only when an
        attempt is live and ``poll_interval_s`` has passed since the last question."""
        live = [a for a in self._attempts.values() if not a.state.is_final]
        now = time.monotonic()
        interval = self.poll_interval_s if self._problem is None else max(self.poll_interval_s, self.retry_s)
        if (live or self._problem is not None) and now - self._last_query >= interval:
            self._last_query = now
            self._refresh(live)
        return [attempt.status() for attempt in self._attempts.values()]

    def _refresh(self, live: list[_Attempt]) -> None:
        namespaces = {attempt.namespace for attempt in live} or {self.namespace}
        try:
            if len(namespaces) == 1:
                answer = self._call(
                    self.batch.list_namespaced_job, next(iter(namespaces)), label_selector=self.selector
                )
            else:
                answer = self._call(self.batch.list_job_for_all_namespaces, label_selector=self.selector)
        except (KubernetesUnavailable, Rejected) as error:
            self._problem = f"listing Jobs failed: {error}"  # states stay as they were: nothing is lost
            return
        self._problem = None
        jobs = {}
        for job in answer.get("items") or []:
            metadata = job.get("metadata") or {}
            if matches(metadata.get("labels"), self.selector):
                jobs[(metadata.get("namespace"), metadata.get("name"))] = job
        for attempt in live:
            job = jobs.get((attempt.namespace, attempt.name))
            if attempt.cancelled:
                self._settle_cancelled(attempt, job)
            elif not attempt.created or attempt.service_pending:
                self._create(attempt)
            elif job is None:
                attempt.end(AttemptState.FAILED, None, "the Job was deleted outside Suanli")
            else:
                self._apply(attempt, job)

    def _apply(self, attempt: _Attempt, job: dict[str, Any]) -> None:
        state, message = job_state(job)
        if state is AttemptState.SUCCEEDED:
            attempt.end(state, 0, "")
        elif state is AttemptState.FAILED:
            limit = attempt.spec.time_limit_s
            if message.startswith("DeadlineExceeded") and limit is not None:
                message = f"time limit of {limit:g}s exceeded ({message})"
            attempt.end(state, self._exit_code(attempt), message)
        else:
            attempt.state = state

    def _exit_code(self, attempt: _Attempt) -> None | int:
        """From the pods' container statuses: Job status has no exit code. None when the pods
        are gone (or, in the emulator, never existed)."""
        try:
            return pod_exit_code(self._pods(attempt))
        except (KubernetesUnavailable, Rejected):
            return None

    def _pods(self, attempt: _Attempt) -> list[dict[str, Any]]:
        answer = self._call(
            self.core.list_namespaced_pod, attempt.namespace, label_selector=f"{JOB_NAME_LABELS[1]}={attempt.name}"
        )
        return [
            pod
            for pod in answer.get("items") or []
            if any(((pod.get("metadata") or {}).get("labels") or {}).get(k) == attempt.name for k in JOB_NAME_LABELS)
        ]

    # -- cancel -----------------------------------------------------------------------------

    def cancel(self, key: AttemptKey, grace_s: float = 10.0) -> None:
        """Deletes the Job; its pods go with it, each stopped by the kubelet with SIGTERM and,
        after the pods' grace period (``stop_grace_s``, fixed when the Job was created; the
        ``grace_s`` of this call cannot reach pods that exist), SIGKILL. CANCELLED once the Job
        is gone; when the API server is away, the delete is retried by later polls."""
        attempt = self._attempts.get(key)
        if attempt is None or attempt.state.is_final or attempt.cancelled:
            return
        attempt.cancelled = True
        self._delete(attempt)

    def _delete(self, attempt: _Attempt) -> None:
        try:
            self._call(
                self.batch.delete_namespaced_job, attempt.name, attempt.namespace, propagation_policy="Background"
            )
        except KubernetesUnavailable as error:
            self._problem = f"deleting Job {attempt.namespace}/{attempt.name} failed: {error}"
            return
        except Rejected as error:
            if error.status != 404:
                self._problem = f"deleting Job {attempt.namespace}/{attempt.name} failed: {error}"
                return
        attempt.delete_sent = True
        if attempt.spec.nodes > 1:  # owned by the Job where the server gave its uid; else by us
            # Gone already, or (no answer) the owner reference takes it with the Job.
            with contextlib.suppress(KubernetesUnavailable, Rejected):
                self._call(self.core.delete_namespaced_service, attempt.name, attempt.namespace)

    def _settle_cancelled(self, attempt: _Attempt, job: dict[str, Any] | None) -> None:
        if job is not None and job_state(job)[0] is AttemptState.SUCCEEDED:
            attempt.end(AttemptState.SUCCEEDED, 0, "")  # it ended before the cancel reached it
        elif not attempt.delete_sent:
            self._delete(attempt)
        elif job is None:
            attempt.end(AttemptState.CANCELLED, None, "cancelled")

    # -- logs, bookkeeping ------------------------------------------------------------------

    def read_logs(self, key: AttemptKey, offset: int, limit: int = 65536) -> bytes:
        """The pods' output, append-only: complete new lines of each pod are added as they come
        (a gang's prefixed ``[rank N]``), read again at most every ``log_refresh_s``. Empty while
        there are no pods (always, in the emulator)."""
        if offset < 0:
            raise ValueError("offset must be >= 0")
        attempt = self._attempts.get(key)
        if attempt is None:
            return b""
        now = time.monotonic()
        if not attempt.logs_final and now - attempt.logs_at >= self.log_refresh_s:
            attempt.logs_at = now
            final = attempt.state.is_final
            with contextlib.suppress(KubernetesUnavailable, Rejected):
                self._pump_logs(attempt, final)
                attempt.logs_final = final
        return bytes(attempt.logs[offset : offset + max(limit, 0)])

    def _pump_logs(self, attempt: _Attempt, final: bool) -> None:
        for pod in sorted(self._pods(attempt), key=completion_index):
            name = (pod.get("metadata") or {}).get("name", "")
            data = self._call.raw(self.core.read_namespaced_pod_log, name, attempt.namespace, container=CONTAINER)
            done = attempt.log_offsets.get(name, 0)
            end = len(data) if final else data.rfind(b"\n") + 1  # whole lines until the end
            if end <= done:
                continue
            new = data[done:end]
            if attempt.spec.nodes > 1:
                prefix = f"[rank {completion_index(pod)}] ".encode()
                new = b"".join(prefix + line for line in new.splitlines(keepends=True))
            attempt.logs += new
            attempt.log_offsets[name] = end

    def forget(self, key: AttemptKey) -> None:
        attempt = self._attempts.get(key)
        if attempt is not None and not attempt.state.is_final:
            raise ValueError(f"{key} is still running; cancel it and wait for a final state first")
        self._attempts.pop(key, None)

    def close(self) -> None:
        """Deletes every live attempt's Job (best effort) and marks them CANCELLED: a new agent
        does not adopt them, and the server reruns what it does not hear of."""
        for attempt in self._attempts.values():
            if not attempt.state.is_final:
                if not attempt.delete_sent:
                    self._delete(attempt)
                attempt.end(AttemptState.CANCELLED, None, "the executor was closed")

    def __enter__(self) -> KubernetesExecutor:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
