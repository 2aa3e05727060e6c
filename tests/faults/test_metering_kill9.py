"""kill -9 of the server (and once of the server and its agent together) during a run of many
short jobs, then the meter and the ledger are checked against the database itself:

(a) the usage records of every attempt that started tile ``[started_at, end)`` with no gap and no
    overlap, and sum to ``end - started_at``, where ``end`` is ``ended_at``; for a LOST attempt it
    is the last moment the server knew it ran, at most ``ended_at`` and at least
    ``ended_at - agent_offline_after_s - agent_heartbeat_s`` (the doc's bound: an attempt LOST at
    its agent's hello ends within ``agent_offline_after_s`` of the last heartbeat that reported
    it, and one LOST by silence ends at the center's last heartbeat, which is that long before);
    no key (job, attempt, interval start) appears twice;
(b) every attempt that started has records, ending in exactly one final record whose reason is
    its final state; none that never started has any;
(c) after rating (``RatingService.rate_new`` on its own engine, with a clock an hour ahead of the
    settling margin, while the server's own rater may run too), every record whose cost rounds
    to a fen or more has exactly one transaction ``usage:<id>`` and no other record has one,
    every transaction balances, the ledger's total is zero, and what the organization owes is the
    sum of the records' costs, each computed independently and rounded to the fen.

Checkpoints are written every second (``usage_interval_s`` 1), so most attempts are metered in
several records, and the kills land between, during and after them. Times in the assertions are
the server's own timestamps from the database; the test's clock only bounds the waiting.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.ledger_store import SqlLedgerStore
from suanli.adapters.storage.rate_store import SqlRateStore
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.tables import attempts, ledger_entries, ledger_transactions
from suanli.adapters.storage.usage_rows import record_from_row
from suanli.domain.attempts import AttemptState
from suanli.domain.money import to_fen
from suanli.domain.rating import cost
from suanli.domain.usage import CHECKPOINT
from suanli.services.rating import RatingService
from tests.faults.conftest import SETTINGS, ledger_job, runs_per_job
from tests.integration.agent_e2e.conftest import FINAL, MODEL, Cluster, running_cluster
from tests.metering import metering_problems, usage_rows

JOBS = 60
CENTER = "qd-ai"
POOL = f"declared-{MODEL.lower()}"  # the pool Cluster.add_center declares
SLOTS = f"{MODEL}:4"  # four at a time: the run outlasts the kills
# Prices high enough that a fraction of a second costs fen, with digits that make rounding count.
PRICES = {"per_accelerator_hour": "3600.1234", "per_cpu_hour": "7.7777", "per_gb_hour": "1.0101"}
METERING = {"usage_interval_s": "1", "platform_fee": "0.05"}
# "crash": the agent and every attempt process it supervises killed -9 (the machine crashed), then
# the server; the restarted agent finds its attempts gone, so they end LOST (or FAILED).
KILLS = ("server", "both", "crash")
SETTLE_TIMEOUT_S = 120  # only to stop a hung test
MICROSECOND = timedelta(microseconds=1)


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now


@pytest.fixture
def metered(tmp_path: Path, database: dict[str, str]) -> Iterator[Cluster]:
    """The fault suite's cluster (SETTINGS), metering every second and taking a platform fee."""
    with running_cluster(tmp_path, **SETTINGS, **METERING, **database) as cluster:
        yield cluster


def database_url(cluster: Cluster, database: dict[str, str]) -> str:
    return database.get("database_url") or f"sqlite:///{cluster.server.home / 'suanli.db'}"


def wait_final(cluster: Cluster, jobs: set[int]) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    pending = set(jobs)
    while pending:
        pending = {j for j in pending if cluster.client.get_job(j).status not in FINAL}
        if pending and time.monotonic() > deadline:
            agents = "\n".join(a.output()[-3000:] for a in cluster.agents)
            pytest.fail(f"jobs {sorted(pending)} not final after {SETTLE_TIMEOUT_S} s\n--- agent:\n{agents}")
        time.sleep(0.2)


def ended_attempts(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(attempts)))


def attempt_problems(found: list[Any], records: list[Any], offline_after_s: float, heartbeat_s: float) -> list[str]:
    """(a) and (b), on top of tests/metering.py: the seconds of each attempt, and its LOST bound."""
    by_attempt: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for record in records:
        by_attempt[(record.job_id, record.attempt)].append(record)
    problems = []
    keys = Counter((r.job_id, r.attempt, r.interval_start) for r in records)
    problems += [f"record key {key} written {n} times" for key, n in keys.items() if n > 1]
    lost_bound = timedelta(seconds=offline_after_s + heartbeat_s)
    for attempt in found:
        name = f"job {attempt.job_id} attempt {attempt.number}"
        own = sorted(by_attempt.get((attempt.job_id, attempt.number), []), key=lambda r: r.interval_start)
        state = AttemptState(attempt.state)
        if not state.is_final:
            problems.append(f"{name} is {state} after every job ended")
            continue
        if attempt.started_at is None:
            if own:
                problems.append(f"{name} never started, yet has {len(own)} record(s)")
            continue
        if not own:
            problems.append(f"{name} started and ended {state} without a record")
            continue
        seconds = sum(r.seconds for r in own)
        end = own[-1].interval_end
        # float seconds per record, summed: a microsecond per record is far more than their error
        tolerance = len(own) * 1e-6
        if abs(seconds - (end - attempt.started_at).total_seconds()) > tolerance:
            problems.append(f"{name}: its records hold {seconds} s, it ran {end - attempt.started_at}")
        if state is AttemptState.LOST:
            if not (attempt.ended_at - lost_bound <= end <= attempt.ended_at or end == attempt.started_at):
                problems.append(f"{name} LOST at {attempt.ended_at}: its records end at {end}, out of bounds")
        elif end != attempt.ended_at:
            problems.append(f"{name} ended {state} at {attempt.ended_at}, its records end at {end}")
    return problems


def ledger_problems(engine: Engine, records: list[Any]) -> tuple[list[str], int]:
    """(c): the problems, and how many charges there are."""
    cards = SqlRateStore(SqlStore(engine)).cards()
    costs = {}
    for row in records:
        record = record_from_row(row)
        card = cards.get((record.center, record.pool))
        if card is None:
            return [f"record {row.id} is on {record.center}/{record.pool}, which has no rate"], 0
        costs[row.id] = to_fen(cost(record, card))
    with engine.connect() as connection:
        keys = Counter(connection.execute(select(ledger_transactions.c.key)).scalars())
        sums = connection.execute(
            select(ledger_entries.c.transaction_id, func.count(), func.sum(ledger_entries.c.amount)).group_by(
                ledger_entries.c.transaction_id
            )
        ).all()
        transactions = connection.execute(select(func.count()).select_from(ledger_transactions)).scalar_one()
        total = connection.execute(select(func.sum(ledger_entries.c.amount))).scalar_one()
        owed = connection.execute(
            select(func.sum(ledger_entries.c.amount)).where(ledger_entries.c.account.like("receivable:%"))
        ).scalar_one()
    problems = []
    for record_id, amount in costs.items():
        count = keys.get(f"usage:{record_id}", 0)
        if count != (1 if amount else 0):
            problems.append(f"usage record {record_id} (cost {amount}) has {count} charge(s)")
    strays = set(keys) - {f"usage:{i}" for i in costs}
    problems += [f"a transaction {key} of no usage record" for key in sorted(strays)[:10]]
    problems += [f"transaction {t}: {n} entries summing to {s}" for t, n, s in sums if n < 2 or s != 0]
    if len(sums) != transactions:
        problems.append(f"{transactions} transactions, {len(sums)} with entries")
    if (total or 0) != 0:
        problems.append(f"the ledger's entries sum to {total}")
    expected = sum(costs.values(), Decimal(0))
    if (owed or 0) != expected:
        problems.append(f"receivables total {owed}, the records cost {expected}")
    return problems, sum(1 for amount in costs.values() if amount)


def test_kill_9_during_metered_jobs_keeps_usage_tiled_and_the_ledger_balanced(
    metered: Cluster, database: dict[str, str], tmp_path: Path
) -> None:
    cluster = metered
    settings = SETTINGS | METERING | database
    token = cluster.add_center(CENTER)
    cluster.start_agent(CENTER, token, accelerators=SLOTS, timeout_s=60)
    cluster.client.publish_rate(CENTER, POOL, **PRICES)  # after the agent declared its pool
    seed = int(os.environ.get("SUANLI_FAULT_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    ledger = tmp_path / "ledger"
    jobs = set()
    for i in range(JOBS):
        spec = ledger_job(ledger, f"m{i}", sleep_s=round(rng.uniform(0.2, 1.0), 2), exit_code=3 * (i % 7 == 6))
        jobs.add(cluster.client.submit(spec | {"max_retries": i % 3}).id)
    for target in KILLS:
        time.sleep(rng.uniform(0.3, 1.0))
        agent = cluster.agents[-1]
        if target in ("both", "crash"):
            agent.kill9()
        if target == "crash":
            cluster.kill_attempt_processes()
        cluster.restart_server(**settings)
        if target in ("both", "crash"):
            time.sleep(rng.uniform(0, 0.5))
            cluster.start_agent(CENTER, token, accelerators=SLOTS, timeout_s=60)
    wait_final(cluster, jobs)

    engine = make_engine(database_url(cluster, database))
    try:
        found = ended_attempts(engine)
        records = usage_rows(engine)
        context = (
            f"seed {seed}: {len(found)} attempts, {len(records)} records "
            f"({sum(r.reason == CHECKPOINT for r in records)} checkpoints), "
            f"ended {dict(Counter(a.state for a in found))}, job starts per the jobs' own ledger: "
            f"{sum(runs_per_job(ledger).values())}"
        )
        print(context)
        assert metering_problems(engine) == [], context
        offline_after_s, heartbeat_s = float(SETTINGS["agent_offline_after_s"]), float(SETTINGS["agent_heartbeat_s"])
        assert attempt_problems(found, records, offline_after_s, heartbeat_s) == [], context

        clock = FixedClock(datetime.now(UTC) + timedelta(hours=1))  # far past the rater's 10 s margin
        store = SqlStore(engine)
        RatingService(SqlLedgerStore(store), SqlRateStore(store), clock, fee_rate=Decimal("0.05")).rate_new()
        problems, charges = ledger_problems(engine, records)
        assert problems == [], context
        assert charges > 0, f"{context}: nothing was charged; the prices are too low to test the ledger"
    finally:
        engine.dispose()
