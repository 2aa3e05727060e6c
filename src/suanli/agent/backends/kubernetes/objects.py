"""Pure helpers of the Kubernetes executor: names, labels, the Job and Service manifests of an
attempt, and the mapping of a Job's status to an attempt state. No I/O, no kubernetes import:
manifests are plain dicts, which the official client sends as they are.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState
from suanli.domain.accelerators import CPU, AcceleratorCatalog

MANAGED_BY = "app.kubernetes.io/managed-by"
JOB_ID = "suanli.io/job-id"
ATTEMPT = "suanli.io/attempt"
CENTER = "suanli.io/center"
NAME_ANNOTATION = "suanli.io/name"
CONTAINER = "main"
# The label the Job controller puts on its pods (and the older one, for clusters before 1.27).
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
COMPLETION_INDEX = "metadata.annotations['batch.kubernetes.io/job-completion-index']"

# Extended resources per vendor, as their device plugins advertise them.
VENDOR_RESOURCES = {
    "NVIDIA": "nvidia.com/gpu",
    "Cambricon": "cambricon.com/mlu",
    "Hygon": "hygon.com/dcu",
}
ASCEND_RESOURCES = {"Ascend910B": "huawei.com/Ascend910", "Ascend310P": "huawei.com/Ascend310P"}


def job_name(key: AttemptKey) -> str:
    """The Job of an attempt: digits and dashes only, so always a DNS-1123 label."""
    return f"suanli-{key.job_id}-{key.attempt}"


def dns_label(text: str, fallback: str = "x") -> str:
    """``text`` as a DNS-1123 label: lower case letters, digits and dashes, at most 63."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name[:63].strip("-") or fallback


def tenant_namespace(tenant: str, prefix: str = "suanli") -> str:
    """The namespace of a tenant's attempts: ``<prefix>-<tenant>`` as a DNS-1123 label. Used once
    attempts carry their tenant; until then every attempt goes to the executor's namespace."""
    return dns_label(f"{prefix}-{tenant}", prefix)


def label_value(text: str) -> str:
    """``text`` as a label value: at most 63 of ``[A-Za-z0-9._-]``, alphanumeric at both ends."""
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)


def owner_labels(key: AttemptKey, center: str) -> dict[str, str]:
    labels = {MANAGED_BY: "suanli", JOB_ID: str(key.job_id), ATTEMPT: str(key.attempt)}
    if label_value(center):
        labels[CENTER] = label_value(center)
    return labels


def selector(center: str) -> str:
    """The label selector of this agent's Jobs."""
    parts = [f"{MANAGED_BY}=suanli"]
    if label_value(center):
        parts.append(f"{CENTER}={label_value(center)}")
    return ",".join(parts)


def matches(labels: dict[str, str] | None, wanted: str) -> bool:
    """Whether ``labels`` satisfy an equality selector (the emulator does not filter lists)."""
    have = labels or {}
    return all(have.get(k) == v for k, _, v in (part.partition("=") for part in wanted.split(",")))


def resource_limits(spec: AttemptSpec, catalog: AcceleratorCatalog) -> dict[str, str]:
    """Per pod: the accelerators of one node as the vendor's extended resource; a CPU attempt
    asks for its slots as cores (at least one)."""
    per_node = spec.accelerators_per_node
    if spec.accelerator != CPU and spec.accelerator not in catalog:
        raise ValueError(f"unknown accelerator model {spec.accelerator!r}")
    model = catalog.resolve(spec.accelerator)
    if model.name == CPU:
        return {"cpu": str(max(per_node, 1))}
    resource = ASCEND_RESOURCES.get(model.name) or VENDOR_RESOURCES.get(model.vendor)
    if resource is None:
        raise ValueError(f"no Kubernetes resource is known for {model.name} ({model.vendor})")
    return {resource: str(per_node)} if per_node > 0 else {}


@dataclass(frozen=True, slots=True)
class JobShape:
    """What the executor decides about a Job beyond the spec."""

    namespace: str
    image: str
    center: str = ""
    affinity: dict[str, Any] | None = None
    service_account: str | None = None
    ttl_after_finished_s: int | None = None
    stop_grace_s: float = 10.0
    master_port: int = 29500


def job_manifest(spec: AttemptSpec, shape: JobShape, limits: dict[str, str]) -> dict[str, Any]:
    """The batch/v1 Job of an attempt. The command is an argv list (no shell of ours); a string
    command runs under ``/bin/sh -c`` as with the local executor. Kubernetes does not retry it
    (backoffLimit 0): Suanli does, elsewhere if need be."""
    name = job_name(spec.key)
    labels = owner_labels(spec.key, shape.center)
    argv = list(spec.command) if isinstance(spec.command, tuple) else ["/bin/sh", "-c", spec.command]
    env = spec.job_env()
    env_list: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in env.items()]
    container: dict[str, Any] = {"name": CONTAINER, "image": shape.image, "command": argv, "env": env_list}
    if limits:
        container["resources"] = {"limits": limits, "requests": dict(limits)}
    if spec.workdir:
        container["workingDir"] = spec.workdir
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [container],
        "terminationGracePeriodSeconds": max(0, math.ceil(shape.stop_grace_s)),
    }
    if shape.affinity:
        pod["affinity"] = shape.affinity
    if shape.service_account:
        pod["serviceAccountName"] = shape.service_account
    job_spec: dict[str, Any] = {
        "backoffLimit": 0,
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
    }
    if spec.time_limit_s is not None:
        job_spec["activeDeadlineSeconds"] = max(1, math.ceil(spec.time_limit_s))
    if shape.ttl_after_finished_s is not None:
        job_spec["ttlSecondsAfterFinished"] = shape.ttl_after_finished_s
    if spec.nodes > 1:
        # One pod per gang member, all at once; the pod of index i is host <name>-i of the
        # headless Service <name>, so rank 0 is reachable by name.
        job_spec.update(completionMode="Indexed", completions=spec.nodes, parallelism=spec.nodes)
        pod["subdomain"] = name
        env_list += [
            {"name": "RANK", "valueFrom": {"fieldRef": {"fieldPath": COMPLETION_INDEX}}},
            {"name": "NODE_RANK", "valueFrom": {"fieldRef": {"fieldPath": COMPLETION_INDEX}}},
            {"name": "LOCAL_RANK", "value": "0"},
            {"name": "LOCAL_WORLD_SIZE", "value": "1"},
            {"name": "WORLD_SIZE", "value": str(spec.nodes)},
            {"name": "MASTER_ADDR", "value": f"{name}-0.{name}.{shape.namespace}.svc"},
            {"name": "MASTER_PORT", "value": str(shape.master_port)},
        ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": shape.namespace,
            "labels": labels,
            "annotations": {NAME_ANNOTATION: spec.name},
        },
        "spec": job_spec,
    }


def service_manifest(spec: AttemptSpec, shape: JobShape, owner_uid: str | None) -> dict[str, Any]:
    """The headless Service that gives a gang's pods DNS names; owned by the Job, so it goes
    when the Job goes."""
    name = job_name(spec.key)
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": shape.namespace,
        "labels": owner_labels(spec.key, shape.center),
    }
    if owner_uid:
        metadata["ownerReferences"] = [
            {"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": owner_uid, "blockOwnerDeletion": False}
        ]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "clusterIP": "None",
            "selector": {JOB_NAME_LABELS[1]: name},
            "publishNotReadyAddresses": True,
        },
    }


def job_state(job: dict[str, Any]) -> tuple[AttemptState, str]:
    """A Job's status as an attempt state and, for a failure, Kubernetes' reason and message."""
    status = job.get("status") or {}
    completions = (job.get("spec") or {}).get("completions") or 1
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Failed":
            reason, message = condition.get("reason") or "Failed", condition.get("message") or ""
            return AttemptState.FAILED, f"{reason}: {message}" if message else reason
        if condition.get("type") == "Complete":
            return AttemptState.SUCCEEDED, ""
    if (status.get("succeeded") or 0) >= completions:
        return AttemptState.SUCCEEDED, ""
    if status.get("failed"):
        return AttemptState.FAILED, f"{status['failed']} pod(s) failed"
    # ``active`` counts pending pods too; ``ready`` (Kubernetes 1.24+) counts running ones.
    ready = status.get("ready")
    if status.get("active") and (ready is None or ready > 0):
        return AttemptState.RUNNING, ""
    return AttemptState.STARTING, ""


def pod_exit_code(pods: list[dict[str, Any]]) -> int | None:
    """The first non-zero exit code of the main container among a Job's pods (lowest index
    first), else 0 if one terminated, else None. A signal shows as 128+N, as in a shell."""
    codes = []
    for pod in sorted(pods, key=completion_index):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated")
            if status.get("name") == CONTAINER and terminated and terminated.get("exitCode") is not None:
                codes.append(int(terminated["exitCode"]))
    nonzero = [code for code in codes if code != 0]
    return nonzero[0] if nonzero else (0 if codes else None)


def completion_index(pod: dict[str, Any]) -> int:
    """A pod's index in an Indexed Job (0 for a plain Job's pod)."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    index = str(annotations.get("batch.kubernetes.io/job-completion-index", "0"))
    return int(index) if index.isdigit() else 0
