"""Server memory under concurrent maximal and oversize batches (issue 10).

A real server process (SQLite in a temp home, or a fresh PostgreSQL schema) receives, at once:

1. ``--concurrent`` (4) maximal batches: ``max_jobs_per_request`` jobs each, in a body just under
   ``max_body_bytes``, whose last job names an unknown accelerator, so each is read, counted,
   parsed and validated in full and then refused (422) without writing (the scheduler's queue
   does not grow, so what is measured is the request path);
2. the same number of oversize requests: too many jobs in a body under the byte limit (413 from
   the count, before any job is built), a declared Content-Length over the limit (413 before
   the body is read) and a chunked body over the limit (413 while streaming);
3. ``--concurrent`` maximal batches that are stored (201).

A sampler reads the server's resident memory (psutil) every 20 ms; each phase reports its peak,
the answers it got, and how long it took.

Run: ``python benchmarks/bench_batch_memory.py [--database sqlite|postgres] [--concurrent 4]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
from server import auth_headers, postgres_schema, running_server

MAX_BODY_BYTES = 8 * 1024 * 1024  # the server's defaults (settings max_body_bytes, max_jobs_per_request)
MAX_JOBS = 100_000


def batch(count: int, last_bad: bool, pad_to: int | None = None) -> bytes:
    """A batch body of ``count`` small jobs; names padded so the body nears ``pad_to`` bytes."""
    if pad_to is None:  # as small as a job can be
        jobs: list[dict[str, object]] = [{"name": str(i), "command": "t"} for i in range(count)]
    else:
        width = min(max(8, pad_to // count - len('{"name":"","command":["true"]},')), 200)
        jobs = [{"name": f"b{i}".ljust(width, "x"), "command": ["true"]} for i in range(count)]
    if last_bad:
        jobs[-1]["resources"] = {"accelerators": ["Z9000:1"]}
    return json.dumps({"jobs": jobs}, separators=(",", ":")).encode()


class Sampler:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> Sampler:
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def mb(value: int) -> float:
    return round(value / 2**20, 1)


def phase(pid: int, requests: list[Callable[[], int]]) -> dict[str, object]:
    before = psutil.Process(pid).memory_info().rss
    started = time.perf_counter()
    with Sampler(pid) as sampler, ThreadPoolExecutor(len(requests)) as pool:
        statuses = [f.result() for f in [pool.submit(r) for r in requests]]
    return {
        "statuses": statuses,
        "seconds": round(time.perf_counter() - started, 1),
        "rss_before_mb": mb(before),
        "peak_rss_mb": mb(sampler.peak),
        "rss_after_mb": mb(psutil.Process(pid).memory_info().rss),
    }


def measure(database_url: str | None, concurrent: int) -> dict[str, object]:
    refused = batch(MAX_JOBS, last_bad=True, pad_to=MAX_BODY_BYTES - 4096)
    stored = batch(MAX_JOBS, last_bad=False, pad_to=MAX_BODY_BYTES - 4096)
    too_many = batch(MAX_JOBS * 5 // 2, last_bad=False)  # 250,000 jobs, still under the byte limit
    too_big = batch(MAX_JOBS, last_bad=False, pad_to=MAX_BODY_BYTES * 2)
    assert len(refused) <= MAX_BODY_BYTES and len(too_many) <= MAX_BODY_BYTES < len(too_big), "body sizes"
    headers = {"content-type": "application/json"}

    def post(body: bytes, *, stream: bool = False) -> Callable[[], int]:
        def send() -> int:
            with httpx.Client(base_url=url, timeout=600, headers=auth_headers()) as client:

                def chunks() -> Iterator[bytes]:
                    for i in range(0, len(body), 65536):
                        yield body[i : i + 65536]

                content = chunks() if stream else body
                try:
                    return client.post("/api/v1/jobs/batch", content=content, headers=headers).status_code
                except httpx.TransportError:  # the server may close a refused stream before reading it all
                    return -1

        return send

    with running_server(database_url) as (url, pid):
        report: dict[str, object] = {
            "body_bytes": {"maximal": len(refused), "too_many_jobs": len(too_many), "too_big": len(too_big)},
            "idle_rss_mb": mb(psutil.Process(pid).memory_info().rss),
        }
        report["maximal_refused_422"] = phase(pid, [post(refused) for _ in range(concurrent)])
        oversize = [post(too_many), post(too_big), post(too_big, stream=True), post(too_many)]
        report["oversize_413"] = phase(pid, oversize[: max(concurrent, 1)])
        report["maximal_stored_201"] = phase(pid, [post(stored) for _ in range(concurrent)])
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--concurrent", type=int, default=4)
    args = parser.parse_args()
    if args.database == "postgres":
        with postgres_schema() as database_url:
            report = measure(database_url, args.concurrent)
    else:
        report = measure(None, args.concurrent)
    print(json.dumps({args.database: report}, indent=2))


if __name__ == "__main__":
    main()
