"""Where the time goes for a short job on the Ray backend, and what one poll costs.

1. Short jobs (``python -c pass``), one at a time on an idle cluster: the executor's ``start``
   (and the Ray HTTP calls in it), then submit -> the first poll that sees RUNNING -> the first
   poll that sees SUCCEEDED, polling every 50 ms as the agent does (100 ms) or faster.
2. One ``poll`` with N live attempts known (N = 50, 100): jobs that ask for a resource no node
   has, so they stay PENDING and cost the cluster nothing but a row; the executor adopts them by
   prefix. ``poll`` makes one ``list_jobs`` call whatever N is; the figure splits the HTTP call
   from our own work.

It starts a private Ray head (scripts/lab/ray-up.sh on port 8268, its own folder) and stops it at
the end, so the lab used by the tests keeps no pending rows. Nothing is asserted.

Run: ``python benchmarks/bench_ray.py [--jobs 10] [--known 50,100]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from suanli.agent.backends.ray.executor import RayExecutor
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def private_lab(port: int) -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="suanli-ray-bench-", dir="/tmp")
    env = {**os.environ, "RAY_LAB_DIR": folder, "RAY_LAB_PORT": str(port), "RAY_LAB_GCS_PORT": str(port - 1880)}
    began = time.monotonic()
    subprocess.run(["bash", str(ROOT / "scripts/lab/ray-up.sh")], env=env, check=True)
    print(f"private Ray head up in {time.monotonic() - began:.1f} s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run(["bash", str(ROOT / "scripts/lab/ray-down.sh")], env=env, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def timed_client(executor: RayExecutor) -> dict[str, list[float]]:
    """Wraps the Jobs client's calls to record how long each HTTP call takes."""
    client = executor.client()
    spent: dict[str, list[float]] = defaultdict(list)
    for name in ("submit_job", "get_job_info", "list_jobs", "get_job_logs", "stop_job", "_do_request"):
        original = getattr(client, name)

        def timed(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_name].append(time.perf_counter() - began)

        setattr(client, name, timed)
    return spent


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    median, low, high = (statistics.median(values) * 1000, min(values) * 1000, max(values) * 1000)
    return f"median {median:.1f} ms (min {low:.1f}, max {high:.1f})"


def short_jobs(executor: RayExecutor, jobs: int) -> None:
    spent = timed_client(executor)
    executor.pools()
    starts, to_running, to_end, polls = [], [], [], []
    for _ in range(jobs):
        key = AttemptKey(uuid.uuid4().int % 10**9 + 1, 1)
        spec = AttemptSpec(key=key, name="bench", command=(sys.executable, "-c", "pass"), accelerator="A100-80G")
        began = time.perf_counter()
        executor.start(spec)
        started = time.perf_counter()
        starts.append(started - began)
        running_at = None
        while True:
            poll_began = time.perf_counter()
            status = next(s for s in executor.poll() if s.key == key)
            polls.append(time.perf_counter() - poll_began)
            now = time.perf_counter()
            if status.state is AttemptState.RUNNING and running_at is None:
                running_at = now
            if status.state.is_final:
                break
            time.sleep(0.05)
        to_running.append((running_at or now) - started)
        to_end.append(now - started)
        executor.forget(key)
    print(f"\n== {jobs} short jobs, one at a time ==")
    print(f"start() (ours + Ray HTTP):      {ms(starts)}")
    print(f"  of which get_job_info HTTP:   {ms(spent['get_job_info'])}")
    print(f"  of which submit_job HTTP:     {ms(spent['submit_job'])}")
    print(f"submit -> RUNNING seen:         {ms(to_running)}")
    print(f"submit -> SUCCEEDED seen:       {ms(to_end)}")
    print(f"poll() with one attempt:        {ms(polls)}")
    print(f"  list_jobs HTTP:               {ms(spent['list_jobs'])}")
    print(f"final logs (get_job_logs):      {ms(spent['get_job_logs'])}")


def poll_cost(executor_for: Any, address: str, known: int) -> None:
    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    submitter = executor_for(prefix)
    client = submitter.client()
    began = time.perf_counter()
    for job in range(known):  # a resource no node has: PENDING for good, no process started
        client.submit_job(
            entrypoint="true",
            submission_id=f"{prefix}-{AttemptKey(job + 1, 1)}",
            entrypoint_resources={"suanli_bench_nowhere": 1},
        )
    print(f"\n== poll with {known} live attempts (submitted in {time.perf_counter() - began:.1f} s) ==")
    executor = executor_for(prefix)
    executor.pools()  # adopts them
    spent = timed_client(executor)
    lasted = []
    for _ in range(30):
        began = time.perf_counter()
        statuses = executor.poll()
        lasted.append(time.perf_counter() - began)
    assert len(statuses) == known
    lists = spent["list_jobs"]
    ours = [total - http for total, http in zip(lasted, lists, strict=True)]
    rows = len(client.list_jobs())
    print(f"poll():        {ms(lasted)}   ({len(lists) / len(lasted):.0f} list_jobs call per poll)")
    print(f"list_jobs HTTP: {ms(lists)}   ({rows} jobs in the cluster's table)")
    print(f"our work:      {ms(ours)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--known", default="50,100")
    parser.add_argument("--port", type=int, default=8268)
    args = parser.parse_args()
    with private_lab(args.port) as address:

        def executor_for(prefix: str) -> RayExecutor:
            return RayExecutor(
                address, models={"GPU": "A100-80G"}, job_prefix=prefix, min_poll_interval_s=0.0, python=sys.executable
            )

        short_jobs(executor_for(f"bench-{uuid.uuid4().hex[:6]}"), args.jobs)
        for known in (int(n) for n in args.known.split(",") if n):
            poll_cost(executor_for, address, known)


if __name__ == "__main__":
    main()
