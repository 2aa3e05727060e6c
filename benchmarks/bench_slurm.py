"""The Slurm executor's costs against the lab of scripts/lab/slurm-up.sh.

1. Latency of a trivial job: ``start()`` (sbatch) -> the executor sees it RUNNING in Slurm, and
   -> SUCCEEDED, polled every 50 ms (``poll_interval_s=0``: one squeue per poll). Where the time
   goes: the sbatch call, one squeue call, and the rest (Slurm's scheduling and launch).
2. One poll with a queue of N jobs (default 1,000) that the executor submitted itself: 4 run,
   the rest pend (2 nodes x 2 CPUs). The poll is one squeue call whatever N is.

Nothing is asserted; figures are printed. Run (as root, lab up):
``python benchmarks/bench_slurm.py [--runs 10] [--queue 1000]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from subprocess import CompletedProcess

from suanli.agent.backends.slurm.executor import SlurmExecutor
from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState

LAB = Path(os.environ.get("SUANLI_SLURM_LAB", "/tmp/suanli-slurm-lab"))


class Timed:
    """Wraps the executor's runner: seconds spent per Slurm tool."""

    def __init__(self, executor: SlurmExecutor) -> None:
        self.runner = executor.runner
        self.seconds: dict[str, list[float]] = {}
        executor.runner = self

    def __call__(self, argv: Sequence[str], timeout_s: float) -> CompletedProcess[str]:
        began = time.perf_counter()
        try:
            return self.runner(argv, timeout_s)
        finally:
            self.seconds.setdefault(argv[0], []).append(time.perf_counter() - began)


def spec(command: tuple[str, ...], pool: str) -> AttemptSpec:
    job_id = uuid.uuid4().int % 10**9 + 1
    return AttemptSpec(AttemptKey(job_id, 1), f"bench-{job_id}", command, pool=pool, accelerator="A100-80G")


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    return f"median {statistics.median(values) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, n={len(values)}"


def latency(executor: SlurmExecutor, runs: int) -> None:
    timed = Timed(executor)
    to_running: list[float] = []
    to_done: list[float] = []
    for _ in range(runs):
        job = spec(("/bin/true",), "debug")
        began = time.perf_counter()
        executor.start(job)
        running_at = None
        while True:
            status = next(s for s in executor.poll() if s.key == job.key)
            if running_at is None and status.state in (AttemptState.RUNNING, AttemptState.SUCCEEDED):
                running_at = time.perf_counter()
            if status.state.is_final:
                break
            time.sleep(0.05)
        assert status.state is AttemptState.SUCCEEDED, status
        to_running.append(running_at - began)
        to_done.append(time.perf_counter() - began)
        executor.forget(job.key)
    print(f"start -> RUNNING seen:   {ms(to_running)}")
    print(f"start -> SUCCEEDED seen: {ms(to_done)}")
    for tool, seconds in timed.seconds.items():
        print(f"  {tool} call: {ms(seconds)}")
    executor.runner = timed.runner


def queue_poll(executor: SlurmExecutor, size: int) -> None:
    began = time.perf_counter()
    for _ in range(size):
        executor.start(spec(("/bin/sleep", "600"), "debug"))
    print(f"submitted {size} jobs in {time.perf_counter() - began:.1f} s")
    timed = Timed(executor)
    polls = []
    for _ in range(20):
        t0 = time.perf_counter()
        statuses = executor.poll()
        polls.append(time.perf_counter() - t0)
        time.sleep(0.2)
    states = {state: sum(1 for s in statuses if s.state is state) for state in AttemptState}
    print(
        f"one poll, {size} jobs in the queue: {ms(polls)}; calls per poll: {len(timed.seconds['squeue']) / 20:g} squeue"
    )
    print(f"  states: { {k.value: v for k, v in states.items() if v} }")
    began = time.perf_counter()
    executor.close()
    print(f"cancelled them in one scancel: {time.perf_counter() - began:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--queue", type=int, default=1000)
    args = parser.parse_args()
    conf = os.environ.get("SLURM_CONF") or str(LAB / "slurm.conf")
    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as work:
        executor = SlurmExecutor(Path(work), gpu_model="A100-80G", slurm_conf=conf, poll_interval_s=0)
        print(f"pools: {[(p.name, p.nodes, p.accelerators_per_node) for p in executor.pools()]}", file=sys.stderr)
        latency(executor, args.runs)
        queue_poll(executor, args.queue)


if __name__ == "__main__":
    main()
