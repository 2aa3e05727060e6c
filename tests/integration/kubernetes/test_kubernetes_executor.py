"""KubernetesExecutor against the kmock API emulator (see conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from suanli.agent.backends.kubernetes.executor import KubernetesExecutor
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState, ExecutorRefused
from tests.integration.kubernetes.conftest import require_emulator

require_emulator()

from kubernetes.client.exceptions import ApiException  # noqa: E402

from tests.integration.kubernetes.emulator import EmulatedApiServer  # noqa: E402

HOSTILE = ["it's", 'say "hi"', "$(touch /tmp/pwned)", "`id`", "a;b && c | d", "line1\nline2", "${HOME}", "*", "-rf"]


def spec(job_id: int = 1, attempt: int = 1, **fields: Any) -> AttemptSpec:
    fields.setdefault("command", ("python", "-c", "print('hi')"))
    fields.setdefault("name", f"job {job_id}")
    return AttemptSpec(key=AttemptKey(job_id, attempt), **fields)


def state_of(executor: KubernetesExecutor, key: AttemptKey) -> Any:
    return {status.key: status for status in executor.poll()}[key]


def container(job: dict[str, Any]) -> dict[str, Any]:
    containers = job["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env_of(job: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container(job)["env"]}


def test_a_job_runs_then_succeeds(executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str) -> None:
    key = AttemptKey(7, 2)
    executor.start(spec(7, 2, env={"MODE": "train"}, time_limit_s=90.5))
    assert state_of(executor, key).state is AttemptState.STARTING

    job = apiserver.job(namespace, "suanli-7-2")
    assert job["metadata"]["namespace"] == namespace
    assert job["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "suanli",
        "suanli.io/job-id": "7",
        "suanli.io/attempt": "2",
        "suanli.io/center": "qingdao-ai",
    }
    assert job["spec"]["template"]["metadata"]["labels"] == job["metadata"]["labels"]
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 91
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 10
    assert container(job)["image"] == "python:3.11-slim"
    assert container(job)["command"] == ["python", "-c", "print('hi')"]
    assert env_of(job) == {"MODE": "train", "SUANLI_JOB_ID": "7", "SUANLI_ATTEMPT": "2"}

    apiserver.set_status(namespace, "suanli-7-2", {"active": 1})
    assert state_of(executor, key).state is AttemptState.RUNNING
    apiserver.set_status(namespace, "suanli-7-2", {"active": 0, "succeeded": 1})
    status = state_of(executor, key)
    assert (status.state, status.exit_code) == (AttemptState.SUCCEEDED, 0)
    assert executor.read_logs(key, 0) == b""  # the emulator has no pods, so no logs
    executor.forget(key)
    assert executor.poll() == []


def test_deadline_exceeded_fails_with_kubernetes_reason(
    executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str
) -> None:
    key = AttemptKey(8, 1)
    executor.start(spec(8, time_limit_s=60))
    apiserver.set_status(namespace, "suanli-8-1", {"active": 1})
    assert state_of(executor, key).state is AttemptState.RUNNING
    failed = {"type": "Failed", "status": "True", "reason": "DeadlineExceeded", "message": "Job was active longer"}
    apiserver.set_status(namespace, "suanli-8-1", {"active": 0, "failed": 1, "conditions": [failed]})
    status = state_of(executor, key)
    assert status.state is AttemptState.FAILED
    assert status.exit_code is None  # no pods in the emulator: the exit code is unknown
    assert status.message == "time limit of 60s exceeded (DeadlineExceeded: Job was active longer)"


def test_exit_code_comes_from_the_pod(
    executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str
) -> None:
    """The emulator stores a Pod the test creates as the Job controller would have."""
    key = AttemptKey(9, 1)
    executor.start(spec(9))
    terminated = {"terminated": {"exitCode": 3, "reason": "Error"}}
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "suanli-9-1-abcde", "labels": {"job-name": "suanli-9-1"}},
        "spec": {"containers": [{"name": "main", "image": "python:3.11-slim"}]},
        "status": {"containerStatuses": [{"name": "main", "image": "x", "imageID": "", "ready": False,
                                          "restartCount": 0, "state": terminated}]},
    }  # fmt: skip
    apiserver.core.create_namespaced_pod(namespace, pod)
    failed = {
        "type": "Failed",
        "status": "True",
        "reason": "BackoffLimitExceeded",
        "message": "Job has reached the specified backoff limit",
    }
    apiserver.set_status(namespace, "suanli-9-1", {"failed": 1, "conditions": [failed]})
    status = state_of(executor, key)
    assert (status.state, status.exit_code) == (AttemptState.FAILED, 3)
    assert status.message.startswith("BackoffLimitExceeded: ")
    # The emulator answers a pod's log request with the pod itself: enough to show that the
    # executor ships what the API server serves for the Job's pods, byte for byte.
    served = apiserver.core.read_namespaced_pod_log("suanli-9-1-abcde", namespace, _preload_content=False).data
    assert served and executor.read_logs(key, 0) == served
    assert executor.read_logs(key, 5, 10) == served[5:15]


def test_cancel_deletes_the_job(executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str) -> None:
    key = AttemptKey(10, 1)
    executor.start(spec(10))
    apiserver.set_status(namespace, "suanli-10-1", {"active": 1})
    assert state_of(executor, key).state is AttemptState.RUNNING
    executor.cancel(key, grace_s=5)
    with pytest.raises(ApiException) as error:
        apiserver.job(namespace, "suanli-10-1")
    assert error.value.status == 404
    assert state_of(executor, key).state is AttemptState.CANCELLED
    executor.forget(key)


def test_a_job_deleted_by_someone_else_fails(
    executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str
) -> None:
    key = AttemptKey(11, 1)
    executor.start(spec(11))
    apiserver.batch.delete_namespaced_job("suanli-11-1", namespace)
    status = state_of(executor, key)
    assert (status.state, status.message) == (AttemptState.FAILED, "the Job was deleted outside Suanli")


@pytest.mark.parametrize(
    ("accelerator", "per_node", "limits"),
    [
        ("A100-80G", 8, {"nvidia.com/gpu": "8"}),
        ("910B", 4, {"huawei.com/Ascend910": "4"}),
        ("CPU", 2, {"cpu": "2"}),
        ("CPU", 0, {"cpu": "1"}),
    ],
)
def test_resource_limits(
    executor: KubernetesExecutor,
    apiserver: EmulatedApiServer,
    namespace: str,
    accelerator: str,
    per_node: int,
    limits: dict[str, str],
) -> None:
    executor.start(spec(12, accelerator=accelerator, accelerators_per_node=per_node))
    resources = container(apiserver.job(namespace, "suanli-12-1"))["resources"]
    assert resources == {"limits": limits, "requests": limits}


def test_an_unknown_accelerator_is_refused(executor: KubernetesExecutor) -> None:
    with pytest.raises(ExecutorRefused, match="unknown accelerator model"):
        executor.start(spec(13, accelerator="Quantum-9000", accelerators_per_node=1))


def test_hostile_strings_arrive_unchanged(
    executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str
) -> None:
    env = {f"V{i}": value for i, value in enumerate(HOSTILE)}
    executor.start(spec(14, name="x'; rm -rf / #\n$(id)", command=("printf", "%s\n", *HOSTILE), env=env))
    job = apiserver.job(namespace, "suanli-14-1")
    assert container(job)["command"] == ["printf", "%s\n", *HOSTILE]
    assert {k: v for k, v in env_of(job).items() if k.startswith("V")} == env
    assert job["metadata"]["annotations"]["suanli.io/name"] == "x'; rm -rf / #\n$(id)"

    executor.start(spec(15, command="echo $HOME; `id`"))  # a string runs under sh -c, as given
    assert container(apiserver.job(namespace, "suanli-15-1"))["command"] == ["/bin/sh", "-c", "echo $HOME; `id`"]


def test_start_is_idempotent(
    executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str, kubeconfig: Any
) -> None:
    key = AttemptKey(16, 1)
    executor.start(spec(16))
    executor.start(spec(16))
    again = KubernetesExecutor(kubeconfig=str(kubeconfig), namespace=namespace, poll_interval_s=0)
    again.use_center("qingdao-ai")  # as the agent does at its first hello
    again.start(spec(16))  # a restarted agent: 409 AlreadyExists for this key is not an error
    assert state_of(again, key).state is AttemptState.STARTING
    names = [job.metadata.name for job in apiserver.batch.list_namespaced_job(namespace).items]
    assert names == ["suanli-16-1"]


def test_one_list_call_per_poll(
    executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for job_id in range(20, 26):
        executor.start(spec(job_id))
    apiserver.set_status(namespace, "suanli-21-1", {"active": 1})
    apiserver.set_status(namespace, "suanli-22-1", {"succeeded": 1})
    calls: list[str] = []
    for method in ("list_namespaced_job", "list_job_for_all_namespaces", "read_namespaced_job"):
        original = getattr(executor.batch, method)

        def counted(*args: Any, _name: str = method, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(executor.batch, method, counted)
    for _ in range(3):
        states = {status.key.job_id: status.state for status in executor.poll()}
    assert calls == ["list_namespaced_job"] * 3
    assert states[21] is AttemptState.RUNNING and states[22] is AttemptState.SUCCEEDED
    assert states[20] is AttemptState.STARTING


def test_api_server_outage_keeps_attempts_and_recovers(
    executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str
) -> None:
    running, late = AttemptKey(30, 1), AttemptKey(31, 1)
    executor.start(spec(30))
    apiserver.set_status(namespace, "suanli-30-1", {"active": 1})
    assert state_of(executor, running).state is AttemptState.RUNNING
    assert executor.healthy() is None
    apiserver.stop()
    try:
        assert state_of(executor, running).state is AttemptState.RUNNING
        assert "listing Jobs failed" in (executor.healthy() or "")
        executor.start(spec(31))  # no answer: kept, created once the server is back
        assert state_of(executor, late).state is AttemptState.STARTING
        assert {status.key for status in executor.poll()} == {running, late}
    finally:
        apiserver.start()
    apiserver.set_status(namespace, "suanli-30-1", {"active": 0, "succeeded": 1})
    assert state_of(executor, running).state is AttemptState.SUCCEEDED
    assert executor.healthy() is None
    assert apiserver.job(namespace, "suanli-31-1")["metadata"]["labels"]["suanli.io/job-id"] == "31"
    assert state_of(executor, late).state is AttemptState.STARTING


def test_gang_is_an_indexed_job_with_a_headless_service(
    executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str
) -> None:
    executor.start(spec(40, nodes=2, accelerator="H100", accelerators_per_node=8))
    job = apiserver.job(namespace, "suanli-40-1")
    assert job["spec"]["completionMode"] == "Indexed"
    assert (job["spec"]["completions"], job["spec"]["parallelism"]) == (2, 2)
    assert job["spec"]["template"]["spec"]["subdomain"] == "suanli-40-1"
    env = env_of(job)
    index = {"fieldRef": {"fieldPath": "metadata.annotations['batch.kubernetes.io/job-completion-index']"}}
    assert env["RANK"] == index and env["WORLD_SIZE"] == "2"
    assert env["MASTER_ADDR"] == f"suanli-40-1-0.suanli-40-1.{namespace}.svc"
    service = apiserver.api.sanitize_for_serialization(apiserver.core.read_namespaced_service("suanli-40-1", namespace))
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["selector"] == {"job-name": "suanli-40-1"}
    # A real API server gives the Job a uid and the Service an owner reference to it; the
    # emulator assigns no uids, so here the executor deletes the Service itself on cancel.
    assert "ownerReferences" not in service["metadata"]
    apiserver.set_status(namespace, "suanli-40-1", {"active": 2, "succeeded": 1})
    assert state_of(executor, AttemptKey(40, 1)).state is AttemptState.RUNNING  # 1 of 2 completions
    executor.cancel(AttemptKey(40, 1))
    with pytest.raises(ApiException, match="Not Found"):
        apiserver.core.read_namespaced_service("suanli-40-1", namespace)
    assert state_of(executor, AttemptKey(40, 1)).state is AttemptState.CANCELLED


def test_a_gang_that_completes_succeeds(
    executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str
) -> None:
    executor.start(spec(41, nodes=3))
    apiserver.set_status(namespace, "suanli-41-1", {"active": 0, "succeeded": 3})
    assert state_of(executor, AttemptKey(41, 1)).state is AttemptState.SUCCEEDED


def _node(name: str, labels: dict[str, str], allocatable: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
        "status": {"allocatable": allocatable},
    }


def test_pools_from_nodes(executor: KubernetesExecutor, apiserver: EmulatedApiServer, namespace: str) -> None:
    a100 = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    nodes = [
        _node("gpu-1", a100, {"nvidia.com/gpu": "8", "cpu": "96", "memory": "1Ti"}),
        _node("gpu-2", a100, {"nvidia.com/gpu": "8", "cpu": "64", "memory": "512Gi"}),
        _node("npu-1", {}, {"huawei.com/Ascend910": "8", "cpu": "192", "memory": "1536Gi"}),
        _node("cpu-1", {}, {"cpu": "32", "memory": "128Gi"}),
        _node("cordoned", a100, {"nvidia.com/gpu": "8", "cpu": "96", "memory": "1Ti"}, unschedulable=True),
    ]
    for node in nodes:
        apiserver.core.create_node(node)
    try:
        pools = {pool.name: pool for pool in executor.pools()}
        assert sorted(pools) == ["a100-80g", "ascend910b", "cpu"]
        gpu = pools["a100-80g"]
        assert (gpu.accelerator, gpu.accelerators_per_node, gpu.nodes, gpu.cpus_per_node) == ("A100-80G", 8, 2, 64)
        assert gpu.memory_gb_per_node == 512
        assert (pools["ascend910b"].accelerator, pools["ascend910b"].accelerators_per_node) == ("Ascend910B", 8)
        assert (pools["cpu"].accelerator, pools["cpu"].accelerators_per_node) == ("CPU", 32)

        executor.start(spec(50, pool="a100-80g", accelerator="A100-80G", accelerators_per_node=8))
        affinity = apiserver.job(namespace, "suanli-50-1")["spec"]["template"]["spec"]["affinity"]
        terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert terms == [
            {
                "matchExpressions": [
                    {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-A100-SXM4-80GB"]}
                ]
            }
        ]
        with pytest.raises(ExecutorRefused, match="no pool 'nope'"):
            executor.start(spec(51, pool="nope"))
    finally:
        for node in nodes:
            apiserver.core.delete_node(node["metadata"]["name"])
