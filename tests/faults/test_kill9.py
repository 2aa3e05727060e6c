"""kill -9 of the server, of the agent, and of both, at random moments during a run of short
jobs: every job reaches its true final state, none is lost, none runs twice, and none is FAILED
whose process succeeded. On SQLite and PostgreSQL, with max_retries 0 and with retries.

Each round submits JOBS jobs (every fifth exits 3, so FAILED is a true outcome too), kills its
target(s) KILLS times at random moments while they run, restarts them at once, and checks every
job against the ledger. ``SUANLI_FAULT_ROUNDS`` (default 1) runs more rounds per case, with other
moments; the seed of each round is printed, so a failing one can be replayed
(``SUANLI_FAULT_SEED``). docs/reliability.md has the figures of a long run.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.conftest import SETTINGS, ledger_job, runs_per_job
from tests.integration.agent_e2e.conftest import FINAL, AgentProcess, Cluster

JOBS = 50
KILLS = 2
ROUNDS = int(os.environ.get("SUANLI_FAULT_ROUNDS", "1"))
CENTER = "qd-ai"
SLOTS = "A100-80G:8"  # eight jobs at a time


@dataclass
class Tally:
    """What one round found; every count but ``jobs`` and ``faults`` must be zero."""

    faults: int = 0
    jobs: int = 0
    lost: int = 0  # never ran, or never reached a final state
    duplicated: int = 0  # ran more than once
    wrong_final_state: int = 0  # the server's outcome is not the process's


@dataclass
class Faults:
    """The cluster under test, its agent, and how to bring either back."""

    cluster: Cluster
    database: dict[str, str]
    token: str
    agent: AgentProcess | None = None

    def start_agent(self) -> None:
        self.agent = self.cluster.start_agent(CENTER, self.token, accelerators=SLOTS, timeout_s=60)

    def kill(self, target: str, rng: random.Random) -> None:
        """kill -9 of ``target`` (server, agent or both), each restarted at once."""
        assert self.agent is not None
        if target in ("agent", "both"):
            self.agent.kill9()
        if target in ("server", "both"):
            self.cluster.restart_server(**SETTINGS, **self.database)
        if target in ("agent", "both"):
            time.sleep(rng.uniform(0, 0.5))
            self.start_agent()

    def round(self, target: str, seed: int, ledger: Path) -> Tally:
        rng = random.Random(seed)
        client = self.cluster.client
        expected: dict[int, str] = {}
        for i in range(JOBS):
            fails = i % 5 == 4
            sleep_s = rng.uniform(0.05, 0.6)
            spec = ledger_job(ledger, f"r{seed}-{i}", sleep_s=sleep_s, exit_code=3 if fails else 0, max_retries=i % 3)
            expected[client.submit(spec).id] = "FAILED" if fails else "SUCCEEDED"
        tally = Tally(jobs=JOBS)
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.2, 2.5))
            self.kill(target, rng)
            tally.faults += 1
        final = self._wait_final(set(expected))
        runs = runs_per_job(ledger)
        for job_id, outcome in expected.items():
            ran = runs.get(job_id, 0)
            tally.lost += ran == 0 or job_id not in final
            tally.duplicated += ran > 1
            tally.wrong_final_state += job_id in final and final[job_id][0] != outcome
        wrong = {j: final[j] for j in final if final[j][0] != expected[j]}
        print(f"seed {seed} {target}: {tally}; wrong: {wrong}; unfinished: {sorted(set(expected) - set(final))}")
        return tally

    def _wait_final(self, jobs: set[int], timeout_s: float = 120) -> dict[int, tuple[str, str]]:
        """Each job's final status and message, for those final within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        final: dict[int, tuple[str, str]] = {}
        while len(final) < len(jobs) and time.monotonic() < deadline:
            for job_id in jobs - set(final):
                job = self.cluster.client.get_job(job_id)
                if job.status in FINAL:
                    final[job_id] = (job.status, job.message)
            time.sleep(0.2)
        return final


@pytest.mark.parametrize("target", ["server", "agent", "both"])
def test_kill_9_at_random_moments_loses_nothing_and_runs_nothing_twice(
    cluster: Cluster, database: dict[str, str], tmp_path: Path, target: str
) -> None:
    faults = Faults(cluster, database, cluster.add_center(CENTER))
    faults.start_agent()
    base = int(os.environ.get("SUANLI_FAULT_SEED", random.randrange(1_000_000)))
    for number in range(ROUNDS):
        tally = faults.round(target, base + number, tmp_path / f"ledger-{number}")
        agent_log = faults.agent.output()[-4000:] if faults.agent else ""
        assert (tally.lost, tally.duplicated, tally.wrong_final_state) == (0, 0, 0), (
            f"seed {base + number}: {tally}\n--- agent:\n{agent_log}"
        )
