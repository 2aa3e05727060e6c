"""Server memory with 1,000,000 jobs in its database.

Target (issue 2): the server stays under 500 MB resident: lists are paginated and the scheduler's
working set is the pending queue, not the history. The database is filled through the storage
layer (990,000 finished jobs, 10,000 pending), then a real server process starts on it, lists
pages, runs scheduling cycles and explains jobs while we sample its resident memory.

Run: ``python benchmarks/bench_memory.py [--jobs 1000000] [--pending 10000]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
from server import BIG_CENTER, JOB, auth_headers, running_server
from sqlalchemy import text

from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.migrations_runner import upgrade_database
from suanli.adapters.storage.store import SqlStore
from suanli.domain.jobs import JobSpec
from suanli.services.clock import SystemClock
from suanli.services.ports import NewJob


def fill(url: str, jobs: int, pending: int) -> float:
    upgrade_database(url)
    store = SqlStore(make_engine(url))
    spec = JobSpec.model_validate(JOB).model_copy(update={"labels": {"team": "bench"}})
    started = time.perf_counter()
    batch = 50_000
    for first in range(0, jobs, batch):
        n = min(batch, jobs - first)
        store.add_jobs(
            [NewJob("default", spec.model_copy(update={"name": f"job-{first + i}"})) for i in range(n)],
            SystemClock().now(),
        )
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE jobs SET status = 'SUCCEEDED' WHERE id <= :n"), {"n": jobs - pending})
    store.engine.dispose()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{Path(home) / 'suanli.db'}"
        fill_s = fill(url, args.jobs, args.pending)
        with running_server(home=Path(home)) as (base, pid):
            process = psutil.Process(pid)
            peak = 0
            stop = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not stop.is_set():
                    peak = max(peak, process.memory_info().rss)
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample)
            sampler.start()
            with httpx.Client(base_url=base, timeout=120, headers=auth_headers()) as client:
                client.post("/api/v1/centers", json=BIG_CENTER).raise_for_status()
                time.sleep(3)  # cycles place the pending backlog
                cursor, pages = None, 0
                while pages < 200:  # walk 20,000 jobs of history, 100 a page
                    params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                    page = client.get("/api/v1/jobs", params=params).json()
                    pages += 1
                    cursor = page.get("next_cursor")
                    if not cursor:
                        break
                client.get("/api/v1/jobs", params={"status": "SUCCEEDED", "limit": 1000}).raise_for_status()
                client.get("/api/v1/jobs/1/explain").raise_for_status()
                client.get(f"/api/v1/jobs/{args.jobs}/explain").raise_for_status()
                health = client.get("/api/v1/health").json()
            stop.set()
            sampler.join()
            report = {
                "jobs_in_database": args.jobs,
                "pending": args.pending,
                "fill_s": round(fill_s, 1),
                "server_peak_rss_mb": round(peak / 2**20, 1),
                "server_rss_after_mb": round(process.memory_info().rss / 2**20, 1),
                "pages_listed": pages,
                "scheduler": health.get("scheduler"),
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
