"""REST submission speed, on SQLite and on PostgreSQL, against a real server process.

Targets (issue 2): single-job submission >= 1,000 jobs/s with p99 < 50 ms, sequentially and with
16 concurrent clients; bulk submission >= 20,000 jobs/s. It also times job lists, which say why
each waiting job waits (issue 11). The load comes from ``wrk`` (apt install
wrk) so that the client does not steal the server's CPU; the scheduler loop runs meanwhile and
places the jobs on a 100,000-GPU center, as in production.

Run: ``python benchmarks/bench_api.py [--seconds 10] [--databases sqlite,postgres]``
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from server import BIG_CENTER, JOB, auth_headers, postgres_schema, running_server


def wrk(url: str, connections: int, seconds: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        body = json.dumps(JOB).replace("\\", "\\\\").replace('"', '\\"')
        token = auth_headers()["Authorization"]
        script.write(
            f'wrk.method = "POST"\nwrk.body = "{body}"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "{token}"\n'
        )
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(connections, 2)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script.name,
            f"{url}/api/v1/jobs",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(script.name).unlink()

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "jobs_per_s": round(rate),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def bulk(url: str, batches: int = 5, size: int = 10_000) -> dict[str, float]:
    jobs = [dict(JOB, name=f"bulk-{i}") for i in range(size)]
    with httpx.Client(base_url=url, timeout=120, headers=auth_headers()) as client:
        started = time.perf_counter()
        for _ in range(batches):
            response = client.post("/api/v1/jobs/batch", json={"jobs": jobs})
            response.raise_for_status()
        elapsed = time.perf_counter() - started
    return {"jobs": batches * size, "batch_size": size, "jobs_per_s": round(batches * size / elapsed)}


def listing(url: str, waiting: int = 1_000, rounds: int = 20) -> dict[str, float]:
    """Median latency of job lists, which carry each waiting job's one-line reason: the newest 100
    (placed on a center whose agent never connected), and ``waiting`` PENDING jobs, each tried
    against the whole fleet (they ask for 16 GPUs per node on 8-GPU nodes, so none ever starts)."""
    stuck = [dict(JOB, name=f"stuck-{i}", resources={"accelerators": ["A100-80G:16"]}) for i in range(waiting)]
    with httpx.Client(base_url=url, timeout=120, headers=auth_headers()) as client:
        client.post("/api/v1/jobs/batch", json={"jobs": stuck}).raise_for_status()

        def median_ms(params: dict[str, object]) -> float:
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                client.get("/api/v1/jobs", params=params).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            return round(sorted(times)[len(times) // 2], 1)

        return {
            "newest_100_ms": median_ms({"limit": 100}),
            f"pending_{waiting}_ms": median_ms({"status": "PENDING", "limit": waiting}),
        }


def run(database: str, seconds: int) -> dict[str, object]:
    def measure(database_url: str | None) -> dict[str, object]:
        with running_server(database_url) as (url, _):
            httpx.post(f"{url}/api/v1/centers", json=BIG_CENTER, headers=auth_headers()).raise_for_status()
            result: dict[str, object] = {
                "sequential": wrk(url, 1, seconds),
                "concurrent_16": wrk(url, 16, seconds),
                "bulk": bulk(url),
                "list": listing(url),
            }
            health = httpx.get(f"{url}/api/v1/health").json()
            result["scheduler"] = health.get("scheduler")
            return result

    if database == "postgres":
        with postgres_schema() as database_url:
            return measure(database_url)
    return measure(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("this benchmark drives the server with wrk: apt-get install wrk")
    report = {db: run(db, args.seconds) for db in args.databases.split(",")}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
