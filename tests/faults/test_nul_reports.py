"""What a job or a backend says may hold NUL (U+0000), which the server refuses (PostgreSQL cannot
store it): the agent escapes it, so the report still arrives and the job's outcome is kept."""

from __future__ import annotations

from suanli.agent.client import AgentClient
from tests.builders import make_pool
from tests.integration.agent_e2e.conftest import Cluster


def test_a_report_whose_message_holds_nul_still_moves_the_job(cluster: Cluster) -> None:
    agent = AgentClient(cluster.server.url, cluster.add_center("qd-ai"))
    try:
        agent.hello([make_pool(accelerator="A100-80G", per_node=2, nodes=1)], [])
        job = cluster.client.submit({"name": "nul", "command": "true", "resources": {"accelerators": "A100-80G:1"}})
        [assignment] = agent.assignments(10).assignments
        agent.report(assignment.key, "RUNNING")
        agent.report(assignment.key, "FAILED", 3, "the job said: half\x00done")
        agent.heartbeat([], problem="still\x00odd")
    finally:
        agent.close()
    done = cluster.wait_status(job.id, "FAILED")
    assert "half\\0done" in done.message
    assert cluster.client.get_center("qd-ai").problem == "still\\0odd"  # a backend's problem too
