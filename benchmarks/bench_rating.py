"""Rating speed: usage records into ledger transactions (issue 13's target: >= 100,000 records
per second, batch, on one core), and booking them in the database, SQLite and PostgreSQL.

Run: ``python benchmarks/bench_rating.py [--records 200000] [--databases sqlite,postgres]``
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from server import postgres_schema

from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.ledger_store import SqlLedgerStore
from suanli.adapters.storage.migrations_runner import upgrade_database
from suanli.adapters.storage.store import SqlStore
from suanli.domain.pricing import Rate, RateCard
from suanli.domain.rating import charge_for
from suanli.domain.usage import UsageRecord

T0 = datetime(2027, 1, 1, tzinfo=UTC)
CARDS = {
    ("qd-ai", pool): RateCard(
        "qd-ai",
        pool,
        [
            Rate("qd-ai", pool, T0, Decimal("12.5"), Decimal("0.05"), Decimal("0.01")),
            Rate("qd-ai", pool, T0 + timedelta(days=1), Decimal("11.8"), Decimal("0.05"), Decimal("0.01")),
        ],
    )
    for pool in ("a100", "910b")
}


def records(count: int) -> list[UsageRecord]:
    made = []
    for i in range(count):
        start = T0 + timedelta(seconds=37 * i % 172_800)
        made.append(
            UsageRecord(
                job_id=i,
                attempt=1,
                interval_start=start,
                interval_end=start + timedelta(seconds=600 + i % 7200),
                organization=f"org-{i % 1000}",
                project="default",
                center="qd-ai",
                center_organization="qd-owner",
                pool="a100" if i % 3 else "910b",
                accelerator="A100",
                accelerators=1 + i % 8,
                cpus=8,
                memory_gb=64.0,
                reason="SUCCEEDED",
                recorded_at=start,
                id=i + 1,
            )
        )
    return made


def rate_all(usage: list[UsageRecord]) -> tuple[list, float]:
    started = time.perf_counter()
    charges = [(charge_for(r, CARDS[(r.center, r.pool)], Decimal("0.05")), r.id) for r in usage]
    return charges, time.perf_counter() - started


def book_all(url: str, charges: list, batch: int = 10_000) -> float:
    upgrade_database(url)
    ledger = SqlLedgerStore(SqlStore(make_engine(url)))
    started = time.perf_counter()
    for i in range(0, len(charges), batch):
        ledger.book(charges[i : i + batch], T0, usage_read_to=charges[min(i + batch, len(charges)) - 1][1])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    usage = records(args.records)
    charges, rating_s = rate_all(usage)
    charges = [(t, i) for t, i in charges if t is not None]
    result: dict[str, object] = {
        "records": args.records,
        "rating_records_per_s": round(args.records / rating_s),
    }
    for database in args.databases.split(","):
        if database == "sqlite":
            with tempfile.TemporaryDirectory() as home:
                seconds = book_all(f"sqlite:///{Path(home) / 'bench.db'}", charges)
        else:
            with postgres_schema() as url:
                seconds = book_all(url, charges)
        result[f"booking_{database}_records_per_s"] = round(len(charges) / seconds)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
