"""Answers lost between agent and server — a proxy's 502, a slow answer, a connection cut
mid-body — lose no job and run none twice: the fault proxy (proxy.py) spoils one chosen answer
after the server has acted on its request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import ledger_job, runs_per_job
from tests.faults.proxy import Fault, FaultProxy, Rule
from tests.integration.agent_e2e.conftest import Cluster

WORK = b'"assignments":[{'  # a poll answer that carries an assignment


@pytest.fixture
def proxy(cluster: Cluster) -> Iterator[FaultProxy]:
    proxy = FaultProxy(cluster.server.url)
    try:
        yield proxy
    finally:
        proxy.close()


CASES = {
    "poll answer with work, 502": Rule(Fault.BAD_GATEWAY, "GET", "/agent/assignments", WORK),
    "poll answer with work, cut mid-body": Rule(Fault.CUT, "GET", "/agent/assignments", WORK),
    "RUNNING report answer, 502": Rule(Fault.BAD_GATEWAY, "POST", "/state", b'"state":"RUNNING"'),
    "final report answer, cut mid-body": Rule(Fault.CUT, "POST", "/state", b'"state":"SUCCEEDED"'),
    "heartbeat answer, 502": Rule(Fault.BAD_GATEWAY, "POST", "/agent/heartbeat"),
    "log chunk answer, 502": Rule(Fault.BAD_GATEWAY, "POST", "/logs"),
    "hello answer, cut mid-body": Rule(Fault.CUT, "POST", "/agent/hello", times=1),
    "poll answer with work, 3 s late": Rule(Fault.DELAY, "GET", "/agent/assignments", WORK, delay_s=3),
}


@pytest.mark.parametrize("rule", list(CASES.values()), ids=list(CASES))
def test_a_lost_answer_loses_no_job_and_runs_none_twice(
    cluster: Cluster, proxy: FaultProxy, tmp_path: Path, rule: Rule
) -> None:
    ledger = tmp_path / "ledger"
    token = cluster.add_center("qd-ai")
    if rule.path == "/agent/hello":
        proxy.add(rule)  # the first hello's answer is cut: the agent must say hello again
    cluster.start_agent("qd-ai", token, via=proxy.url, timeout_s=30)
    proxy.add(rule)
    jobs = [cluster.client.submit(ledger_job(ledger, f"j{i}", max_retries=0)) for i in range(3)]
    for job in jobs:
        done = cluster.wait_status(job.id, "SUCCEEDED", "FAILED", "CANCELLED", timeout=60)
        assert done.status == "SUCCEEDED", f"job {job.id}: {done.status} {done.message!r}"
        assert done.attempts == 1
    assert rule.fired >= 1, f"the fault never happened: {proxy.log}"
    assert runs_per_job(ledger) == {job.id: 1 for job in jobs}
    for job in jobs:  # the output arrived whole, once
        assert cluster.client.read_logs(job.id).data.decode() == f"job {job.id} ran\n"
