"""Submission -> RUNNING latency on an idle local center, through a real `suanli agent`.

Target (issue 3): p50 < 100 ms, p99 < 500 ms. One server process (SQLite, default settings
unless the environment says otherwise) and one agent with declared slots; jobs are submitted
one at a time, each after the previous one ended, so the center is idle at every submission.
The latency is the attempt's ``started_at`` (recorded when the agent reports RUNNING) minus the
job's ``submitted_at``, both on the server's clock. Nothing is asserted; the figures are printed.

Run: ``python benchmarks/bench_agent_latency.py [--jobs 50]``
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from server import running_server

from suanli.client import SuanliClient

POOL = {
    "name": "declared-a100-80g",
    "accelerator": "A100-80G",
    "accelerators_per_node": 2,
    "cpus_per_node": 4,
    "memory_gb_per_node": 8,
    "nodes": 1,
    "price_per_accelerator_hour": 1,
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, running_server(home=Path(tmp) / "server") as (url, _pid):
        client = SuanliClient(url)
        client.add_center({"name": "local", "owner": "bench", "kind": "ai", "region": "here", "pools": [POOL]})
        token = client.mint_center_token("local").token
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")} | {"SUANLI_AGENT_TOKEN": token}
        agent = subprocess.Popen(
            [sys.executable, "-m", "suanli.adapters.cli.main", "agent", "--server", url]
            + ["--accelerators", "A100-80G:2", "--work-dir", str(Path(tmp) / "agent")],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            latencies: list[float] = []
            # Job 0 waits for the agent's start (its hello): a warm-up, not counted.
            for i in range(args.jobs + 1):
                job = client.submit(
                    {"name": f"bench-{i}", "command": ["true"], "resources": {"accelerators": "A100-80G:1"}}
                )
                deadline = time.monotonic() + (60 if i == 0 else 30)
                while client.get_job(job.id).status not in ("SUCCEEDED", "FAILED", "CANCELLED"):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"job {job.id} did not finish")
                    time.sleep(0.01)
                [attempt] = client.job_attempts(job.id)
                assert attempt.started_at is not None
                if i > 0:
                    latencies.append((attempt.started_at - job.submitted_at).total_seconds() * 1000)
            print(f"submission -> RUNNING over {len(latencies)} jobs on an idle local center:")
            print(
                f"  p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
                f"min {min(latencies):.1f} ms, max {max(latencies):.1f} ms (target p50 < 100 ms, p99 < 500 ms)"
            )
        finally:
            os.killpg(agent.pid, signal.SIGTERM)
            agent.wait(10)
            client.close()


if __name__ == "__main__":
    main()
