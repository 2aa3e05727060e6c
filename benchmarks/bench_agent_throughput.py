"""1,000 short jobs through one local agent: jobs/s, the server's CPU per job, and no job lost.

A real ``suanli server`` process (SQLite in a temp home, or a fresh schema of a PostgreSQL
database with ``--database-url``) and one real ``suanli agent --backend local`` process with
declared slots (``--slots``, default 32, so capacity does not serialize the jobs). N short jobs
(default 1,000; each runs ``echo "$SUANLI_JOB_ID $SUANLI_ATTEMPT" >> LEDGER``, a shell builtin,
as short as ``true``) are submitted in bulk (``POST /api/v1/jobs/batch``; ``--batch-size 1`` for
one request per job), and the script waits until every job is final.

Reported: wall time from the first submission to the last attempt's end (server clock) and
jobs/s; the CPU seconds (user + sys, from /proc/PID/stat) the server process, the agent process
and the jobs' processes spent over that window, per job. The server's CPU includes the
benchmark's own polling: one ``GET /api/v1/jobs?status=<not final>&limit=1`` every
``--poll-interval`` (progress comes from the agent's work folder, which costs the server
nothing). Then it proves no job was lost or run twice: every job SUCCEEDED with exactly one
attempt (``GET /api/v1/jobs/{id}`` and ``/attempts``), the database holds exactly the N jobs,
and the ledger the jobs wrote has exactly one line per job. The script exits 1 if not.

``--profile FILE`` records the server with py-spy (``pip install py-spy``) while the jobs run
(``.svg``: flame graph, ``.json``: speedscope, else py-spy's raw format); it costs CPU on the
same cores, so take the figures from a run without it.

Run: ``python benchmarks/bench_agent_throughput.py [--jobs 1000] [--slots 32]
[--database-url postgresql://postgres@127.0.0.1:5432/test] [--output json]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import server
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from server import postgres_schema, running_server

from suanli.client import SuanliClient

CENTER = "local"
NOT_FINAL = ["PENDING", "SCHEDULED", "RUNNING", "PREEMPTED", "LOST"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
APPLICATION_NAME = f"suanli-bench-{uuid.uuid4().hex[:8]}"


def cpu_seconds(pid: int) -> dict[str, float]:
    """User + system CPU of a process (all its threads), and of its reaped children, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3 of proc(5)): utime, stime, cutime, cstime are fields 14-17.
    utime, stime, cutime, cstime = (int(v) / CLOCK_TICKS for v in fields[11:15])
    return {"self": utime + stime, "children": cutime + cstime}


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str | None]:
    """None: SQLite in the server's temp home. A PostgreSQL URL: a fresh schema in that
    database, dropped afterwards (benchmarks/server.py's postgres_schema); the server's
    connections carry APPLICATION_NAME, so that their backends can be found."""
    if url is None or url == "sqlite":
        yield None
        return
    if url != "postgres":
        server.POSTGRES = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with postgres_schema() as schema_url:
        yield f"{schema_url}&application_name={APPLICATION_NAME}"


def backend_cpu_seconds() -> dict[int, float]:
    """CPU of each PostgreSQL backend serving the server under test, by pid; empty when the
    database is not on this machine (no /proc entry for its backends)."""
    import psycopg

    with psycopg.connect(server.POSTGRES, autocommit=True) as conn:
        pids = [
            row[0]
            for row in conn.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APPLICATION_NAME,))
        ]
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            found[pid] = cpu_seconds(pid)["self"]
    return found


@contextlib.contextmanager
def running_agent(url: str, token: str, slots: int, work_dir: Path) -> Iterator[int]:
    """A real `suanli agent --backend local` declaring ``slots`` A100-80G slots; yields its pid
    once it has said hello."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")} | {"SUANLI_AGENT_TOKEN": token}
    work_dir.mkdir(parents=True)
    out = work_dir.parent / "agent.out"
    with out.open("wb") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "suanli.adapters.cli.main", "agent", "--server", url, "--backend", "local"]
            + ["--accelerators", f"A100-80G:{slots}", "--work-dir", str(work_dir)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while b"Suanli agent serving center" not in out.read_bytes():
            if agent.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the agent did not say hello:\n{out.read_text()}")
            time.sleep(0.05)
        yield agent.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(agent.pid, signal.SIGTERM)
        try:
            agent.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(agent.pid, signal.SIGKILL)
            agent.wait()


@contextlib.contextmanager
def py_spy(pid: int, path: str | None) -> Iterator[None]:
    if path is None:
        yield
        return
    fmt = "flamegraph" if path.endswith(".svg") else "speedscope" if path.endswith(".json") else "raw"
    spy = subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--output", path, "--format", fmt, "--rate", "100", "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)  # attached
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        _, err = spy.communicate(timeout=60)
        if spy.returncode not in (0, -signal.SIGINT):
            print(f"py-spy: {err.decode(errors='replace')}", file=sys.stderr)


def started_on_agent(work_dir: Path) -> int:
    """Attempts the agent has launched: it makes one folder JOB-ATTEMPT per attempt."""
    return sum(1 for entry in os.scandir(work_dir) if entry.name != "logs")


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(args.database_url) as database_url,
        running_server(database_url, home=Path(tmp) / "server") as (url, server_pid),
        SuanliClient(url, timeout=300) as client,
    ):
        pool = {
            "name": "declared",
            "accelerator": "A100-80G",
            "accelerators_per_node": args.slots,
            "cpus_per_node": 2,
            "memory_gb_per_node": 8,
            "nodes": 1,
            "price_per_accelerator_hour": 1,
        }
        client.add_center({"name": CENTER, "owner": "bench", "kind": "ai", "region": "here", "pools": [pool]})
        token = client.mint_center_token(CENTER).token
        ledger = Path(tmp) / "ledger"
        command = args.command or f'echo "$SUANLI_JOB_ID $SUANLI_ATTEMPT" >> {ledger}'
        specs = [
            {"name": f"tp-{i}", "command": command, "resources": {"accelerators": "A100-80G:1"}, "time_limit": "10m"}
            for i in range(args.jobs)
        ]
        work_dir = Path(tmp) / "agent" / "work"
        with running_agent(url, token, args.slots, work_dir) as agent_pid:
            time.sleep(1.0)  # let the hello settle: the figures are about the jobs
            server_before, agent_before = cpu_seconds(server_pid), cpu_seconds(agent_pid)
            backends_before = backend_cpu_seconds() if database_url else {}
            cycles_before = client.health().scheduler.cycles
            bench_before = own_cpu_seconds()
            polls = 0
            with py_spy(server_pid, args.profile):
                started = time.perf_counter()
                ids: list[int] = []
                for first in range(0, args.jobs, args.batch_size):
                    batch = specs[first : first + args.batch_size]
                    if len(batch) == 1:
                        ids.append(client.submit(batch[0]).id)
                    else:
                        ids.extend(job.id for job in client.submit_many(batch))
                submitted = time.perf_counter()
                deadline = submitted + args.timeout
                with Progress(
                    TextColumn("[progress.description]{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=console,
                    transient=True,
                ) as progress:
                    task = progress.add_task("jobs started on the agent", total=args.jobs)
                    while True:
                        progress.update(task, completed=started_on_agent(work_dir))
                        polls += 1
                        if not client.list_jobs(status=NOT_FINAL, limit=1).jobs:
                            break
                        if time.perf_counter() > deadline:
                            raise RuntimeError(f"not every job was final after {args.timeout} s")
                        time.sleep(args.poll_interval)
                observed = time.perf_counter()
            server_after, agent_after = cpu_seconds(server_pid), cpu_seconds(agent_pid)
            bench_cpu = own_cpu_seconds() - bench_before
            backends_after = backend_cpu_seconds() if database_url else {}
            cycles = client.health().scheduler.cycles - cycles_before
            database_cpu = sum(cpu - backends_before.get(pid, 0.0) for pid, cpu in backends_after.items())
        # Outside the measured window: check every job.
        problems: list[str] = []
        bad: set[int] = set()  # jobs lost, failed, retried or run twice
        attempts_by_job = {}
        jobs = {job.id: job for job in client.iter_jobs(page_size=1000)}
        if sorted(jobs) != sorted(ids):
            bad.update(set(jobs).symmetric_difference(ids))
            problems.append(f"the database holds {len(jobs)} jobs, {len(ids)} were submitted")
        for job_id in ids:
            job = client.get_job(job_id)
            attempts = client.job_attempts(job_id)
            attempts_by_job[job_id] = attempts
            if job.status != "SUCCEEDED" or job.attempts != 1:
                bad.add(job_id)
                problems.append(f"job {job_id}: {job.status.value} after {job.attempts} attempts ({job.message})")
            history = [(a.attempt, a.state.value, a.exit_code) for a in attempts]
            if history != [(1, "SUCCEEDED", 0)]:
                bad.add(job_id)
                problems.append(f"job {job_id}: attempts (number, state, exit code) {history}")
        if args.command is None:
            runs = Counter(ledger.read_text().split("\n")[:-1] if ledger.exists() else [])
            expected = Counter(f"{job_id} 1" for job_id in ids)
            if runs != expected:
                twice = sorted(k for k, n in runs.items() if n > 1)
                never = sorted(expected - runs)
                extra = sorted(runs - expected)
                bad.update(int(line.split()[0]) for line in [*twice, *never, *extra])
                problems.append(f"ledger: run twice {twice[:10]}, never run {never[:10]}, unexpected {extra[:10]}")
        first_submit = min(job.submitted_at for job in jobs.values())
        ends = [a.ended_at for attempts in attempts_by_job.values() for a in attempts if a.ended_at]
        starts = [a.started_at for attempts in attempts_by_job.values() for a in attempts if a.started_at]
        server_wall = (max(ends) - first_submit).total_seconds() if ends else float("nan")
        health = client.health()

    n = args.jobs
    server_cpu = server_after["self"] - server_before["self"]
    agent_cpu = agent_after["self"] - agent_before["self"]
    jobs_cpu = agent_after["children"] - agent_before["children"]
    return {
        "database": health.database,
        "jobs": n,
        "slots": args.slots,
        "batch_size": min(args.batch_size, n),
        "submit_s": round(submitted - started, 3),
        "wall_s": round(server_wall, 3),
        "wall_observed_s": round(observed - started, 3),
        "jobs_per_s": round(n / server_wall, 1),
        "first_to_last_start_s": round((max(starts) - first_submit).total_seconds(), 3) if starts else None,
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_job": round(1000 * server_cpu / n, 2),
        "server_busy": round(server_cpu / (observed - started), 2),
        "database_cpu_ms_per_job": round(1000 * database_cpu / n, 2) if backends_after else None,
        "database_backends": len(backends_after),
        "scheduler_cycles": cycles,
        "agent_cpu_s": round(agent_cpu, 2),
        "agent_cpu_ms_per_job": round(1000 * agent_cpu / n, 2),
        "jobs_cpu_ms_per_job": round(1000 * jobs_cpu / n, 2),
        "benchmark_cpu_s": round(bench_cpu, 2),
        "polls": polls,
        "cores": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "profiled": args.profile is not None,
        "bad_jobs": len(bad),
        "problems": problems[:50],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--slots", type=int, default=32, help="A100-80G slots the agent declares")
    parser.add_argument(
        "--database-url",
        help="PostgreSQL URL (e.g. postgresql+psycopg://root@127.0.0.1:5432/test): the run uses a fresh schema "
        "there, dropped afterwards; 'postgres' means benchmarks/server.py's default; omitted: SQLite",
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="jobs per POST /jobs/batch (1: POST /jobs)")
    parser.add_argument("--command", help="the jobs' shell command (default: append to a ledger)")
    parser.add_argument("--poll-interval", type=float, default=0.2)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every job to be final")
    parser.add_argument("--profile", metavar="FILE", help="py-spy record the server into FILE (.svg or .json)")
    parser.add_argument("--output", choices=["table", "json"], default="table")
    args = parser.parse_args()
    console = Console(stderr=True)
    result = run(args, console)
    if args.output == "json":
        print(json.dumps(result, indent=2))
    else:
        table = Table(title=f"{result['jobs']} short jobs through one local agent ({result['database']})")
        table.add_column("")
        table.add_column("figure", justify="right")
        rows = [
            ("agent slots / batch size", f"{result['slots']} / {result['batch_size']}"),
            ("submission", f"{result['submit_s']:.2f} s"),
            ("first submit → last end (server clock)", f"{result['wall_s']:.2f} s"),
            ("throughput", f"{result['jobs_per_s']:.0f} jobs/s"),
            ("server CPU", f"{result['server_cpu_s']:.2f} s ({result['server_busy']:.0%} of a core)"),
            ("server CPU per job", f"{result['server_cpu_ms_per_job']:.2f} ms"),
            *(
                [("PostgreSQL backends' CPU per job", f"{result['database_cpu_ms_per_job']:.2f} ms")]
                if result["database_cpu_ms_per_job"] is not None
                else []
            ),
            ("scheduler cycles", f"{result['scheduler_cycles']}"),
            ("agent CPU per job", f"{result['agent_cpu_ms_per_job']:.2f} ms"),
            ("jobs' own CPU per job", f"{result['jobs_cpu_ms_per_job']:.2f} ms"),
            ("benchmark CPU (submit + polls)", f"{result['benchmark_cpu_s']:.2f} s, {result['polls']} polls"),
            ("cores / load average", f"{result['cores']} / {result['load_avg_1m']}"),
            ("lost, failed or run twice", "none ✅" if not result["problems"] else f"{result['bad_jobs']} jobs ❌"),
        ]
        for row in rows:
            table.add_row(*row)
        Console().print(table)
        for problem in result["problems"]:
            print(problem)
    if result["problems"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
