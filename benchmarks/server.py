"""Start a real Suanli server in a subprocess for benchmarks (SQLite in a temp home, or a fresh
PostgreSQL schema), and tear it down afterwards."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

POSTGRES = os.environ.get("SUANLI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL whose search_path is a new, empty schema; dropped afterwards."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def auth_headers() -> dict[str, str]:
    """The Authorization header of the admin token ``running_server`` set in SUANLI_TOKEN."""
    return {"Authorization": f"Bearer {os.environ['SUANLI_TOKEN']}"}


@contextlib.contextmanager
def running_server(database_url: str | None = None, home: Path | None = None) -> Iterator[tuple[str, int]]:
    """Yields (base URL, server pid)."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {**os.environ, "SUANLI_HOME": str(home or tmp)}
        if database_url:
            env["SUANLI_DATABASE_URL"] = database_url
        proc = subprocess.Popen(
            [sys.executable, "-m", "suanli.adapters.cli.main", "server", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the server did not start: {proc.stderr.read().decode() if proc.stderr else ''}"
                    )
                time.sleep(0.2)
            # Signed in as the admin the server made for its new home: the SDK reads SUANLI_TOKEN,
            # raw HTTP clients send auth_headers().
            os.environ["SUANLI_TOKEN"] = (Path(home or tmp) / "token").read_text().strip()
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


BIG_CENTER = {
    "name": "bench-ai",
    "owner": "benchmark",
    "kind": "ai",
    "region": "local",
    "pools": [
        {
            "name": "a100",
            "accelerator": "A100-80G",
            "accelerators_per_node": 8,
            "cpus_per_node": 128,
            "memory_gb_per_node": 1024,
            "nodes": 12_500,
            "price_per_accelerator_hour": 18,
        }
    ],
}

JOB = {
    "name": "bench",
    "command": ["python", "train.py"],
    "resources": {"accelerators": ["A100-80G:1"]},
    "time_limit": "1h",
}
