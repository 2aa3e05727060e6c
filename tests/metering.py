"""The metering invariant, checked against the database itself: whatever path ended an attempt,
the usage records of every attempt that started tile ``[started_at, end)`` exactly, and the
last of an ended attempt is its one final record, with the state it ended in as the reason.
An attempt that never started has no record."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, select

from suanli.adapters.storage.tables import attempts, usage_records
from suanli.domain.attempts import AttemptState
from suanli.domain.usage import CHECKPOINT


def usage_rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(usage_records).order_by(usage_records.c.id)))


def metering_problems(engine: Engine) -> list[str]:
    """Every way the records break the invariant, one line each; [] when they keep it."""
    with engine.connect() as connection:
        found = list(connection.execute(select(attempts)))
    records: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for row in usage_rows(engine):
        records[(row.job_id, row.attempt)].append(row)
    problems = [f"records of job {j} attempt {n}, which does not exist" for j, n in records.keys() - _keys(found)]
    for attempt in found:
        key = (attempt.job_id, attempt.number)
        problems += [f"job {key[0]} attempt {key[1]}: {p}" for p in _attempt_problems(attempt, records.get(key, []))]
    return problems


def _keys(found: list[Any]) -> set[tuple[int, int]]:
    return {(a.job_id, a.number) for a in found}


def _attempt_problems(attempt: Any, records: list[Any]) -> list[str]:
    records = sorted(records, key=lambda r: r.interval_start)
    state = AttemptState(attempt.state)
    if attempt.started_at is None:
        return [f"never started, yet has {len(records)} record(s)"] if records else []
    problems: list[str] = []
    if state.is_final and not records:
        return [f"ended {state} after it started, without a record"]
    edge = attempt.started_at
    for record in records:
        if record.interval_start != edge:
            problems.append(f"a record starts at {record.interval_start}, not where the last ended ({edge})")
        if record.interval_end < record.interval_start:
            problems.append(f"a record ends at {record.interval_end}, before it starts")
        if abs(record.seconds - (record.interval_end - record.interval_start).total_seconds()) > 1e-6:
            problems.append(f"a record's seconds ({record.seconds}) are not its interval's")
        edge = record.interval_end
    reasons = [r.reason for r in records]
    if not state.is_final:
        problems += [f"runs on, yet has a {r} record" for r in reasons if r != CHECKPOINT]
        return problems
    if reasons[-1] != state.value or reasons.count(state.value) != 1 or len(set(reasons) - {CHECKPOINT}) != 1:
        problems.append(f"ended {state}, but its records say {reasons}")
    limit = attempt.ended_at
    if edge > limit or (state is not AttemptState.LOST and edge != limit):
        problems.append(f"its records end at {edge}, it ended at {limit}")
    return problems
