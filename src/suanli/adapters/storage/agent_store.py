"""``SqlAgentStore``: the AgentStore port (center tokens, attempts, heartbeats) on SQLAlchemy Core.

It shares the ``SqlStore``'s engine and its in-process write lock, so SQLite writers still queue
in one line. Every public method is one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, insert, not_, or_, select, update
from sqlalchemy.exc import IntegrityError

from suanli.adapters.storage import job_queries, rows, usage_rows
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.tables import attempt_logs, attempts, center_tokens, centers, jobs
from suanli.domain.attempts import LIVE_ATTEMPT, Attempt, AttemptState
from suanli.domain.centers import CenterState
from suanli.domain.errors import NotFound, StaleVersion
from suanli.domain.job import Job
from suanli.domain.job_status import ACTIVE
from suanli.services.ports import LiveAttempt

_LIVE = sorted(s.value for s in LIVE_ATTEMPT)
_ACTIVE = sorted(s.value for s in ACTIVE)
_CURRENT = and_(jobs.c.status.in_(_ACTIVE), jobs.c.attempts == attempts.c.number)
_ATTEMPT_COLUMNS = [
    c for c in attempts.c if c.name not in ("delivered", "delivered_at", "accelerator", "accelerators_per_node")
]


def attempt_from_row(row: Any) -> Attempt:
    return Attempt(
        job_id=row.job_id,
        number=row.number,
        center=row.center,
        pool=row.pool,
        node_indices=tuple(row.node_indices or ()),
        state=AttemptState(row.state),
        exit_code=row.exit_code,
        message=row.message,
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
    )


class SqlAgentStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def add_center_token(self, center: str, token_hash: str, now: datetime) -> None:
        with self._store._write() as connection:
            if connection.execute(select(centers.c.name).where(centers.c.name == center)).first() is None:
                raise NotFound(f"center {center!r} not found; `suanli center list` shows the registered centers")
            try:
                connection.execute(
                    insert(center_tokens), {"token_hash": token_hash, "center": center, "created_at": rows.utc(now)}
                )
            except IntegrityError:  # a 256-bit collision: practically impossible, never silently shared
                raise StaleVersion("token collision; mint another") from None

    def revoke_center_tokens(self, center: str, keep: str | None = None) -> int:
        statement = delete(center_tokens).where(center_tokens.c.center == center)
        if keep is not None:
            statement = statement.where(center_tokens.c.token_hash != keep)
        with self._store._write() as connection:
            if connection.execute(select(centers.c.name).where(centers.c.name == center)).first() is None:
                raise NotFound(f"center {center!r} not found; `suanli center list` shows the registered centers")
            return int(connection.execute(statement).rowcount or 0)

    def center_for_token(self, token_hash: str) -> str | None:
        statement = (
            select(center_tokens.c.center)
            .join(centers, centers.c.name == center_tokens.c.center)  # a deleted center's tokens are dead
            .where(center_tokens.c.token_hash == token_hash)
        )
        with self._store._read() as connection:
            return connection.execute(statement).scalar()

    def touch_center(self, center: str, now: datetime) -> None:
        with self._store._write() as connection:
            connection.execute(update(centers).where(centers.c.name == center).values(last_seen=rows.utc(now)))

    def silent_centers(self, cutoff: datetime) -> list[str]:
        statement = (
            select(centers.c.name)
            .where(
                centers.c.last_seen.is_not(None),
                centers.c.last_seen < rows.utc(cutoff),
                centers.c.state != CenterState.OFFLINE.value,
            )
            .order_by(centers.c.name)
        )
        with self._store._read() as connection:
            return list(connection.execute(statement).scalars())

    def get_attempt(self, job_id: int, number: int) -> Attempt | None:
        statement = select(*_ATTEMPT_COLUMNS).where(attempts.c.job_id == job_id, attempts.c.number == number)
        with self._store._read() as connection:
            row = connection.execute(statement).first()
        return attempt_from_row(row) if row is not None else None

    def list_attempts(self, job_id: int) -> list[Attempt]:
        statement = select(*_ATTEMPT_COLUMNS).where(attempts.c.job_id == job_id).order_by(attempts.c.number)
        with self._store._read() as connection:
            return [attempt_from_row(row) for row in connection.execute(statement)]

    def live_attempts(self, center: str) -> list[LiveAttempt]:
        statement = (
            select(
                attempts.c.job_id,
                attempts.c.number,
                attempts.c.state,
                attempts.c.delivered,
                attempts.c.delivered_at,
                _CURRENT.label("current"),
            )
            .join(jobs, jobs.c.id == attempts.c.job_id)
            .where(attempts.c.center == center, attempts.c.state.in_(_LIVE))
            .order_by(attempts.c.job_id, attempts.c.number)
        )
        with self._store._read() as connection:
            found = connection.execute(statement).all()
        return [
            LiveAttempt(
                r.job_id,
                r.number,
                bool(r.delivered),
                bool(r.current),
                r.delivered_at if r.delivered and r.state == AttemptState.ASSIGNED.value else None,
            )
            for r in found
        ]

    def redeliver(self, job_id: int, number: int, delivered_at: datetime) -> bool:
        statement = (
            update(attempts)
            .where(
                attempts.c.job_id == job_id,
                attempts.c.number == number,
                attempts.c.state == AttemptState.ASSIGNED.value,
                attempts.c.delivered,
                attempts.c.delivered_at == rows.utc(delivered_at),
            )
            .values(delivered=False)
        )
        with self._store._write() as connection:
            return bool(connection.execute(statement).rowcount == 1)

    def has_undelivered(self, center: str) -> bool:
        statement = select(
            exists().where(
                attempts.c.center == center,
                attempts.c.state == AttemptState.ASSIGNED.value,
                not_(attempts.c.delivered),
            )
        )
        with self._store._read() as connection:
            return bool(connection.execute(statement).scalar())

    def claim_assignments(self, center: str, now: datetime) -> list[tuple[Attempt, Job]]:
        waiting = (
            select(*_ATTEMPT_COLUMNS, _CURRENT.label("current"))
            .join(jobs, jobs.c.id == attempts.c.job_id)
            .where(
                attempts.c.center == center,
                attempts.c.state == AttemptState.ASSIGNED.value,
                not_(attempts.c.delivered),
            )
            .order_by(attempts.c.job_id)
        )
        claimed: list[Attempt] = []
        with self._store._write() as connection:
            for row in connection.execute(waiting).all():
                attempt = attempt_from_row(row)
                values: dict[str, Any] = {"delivered": True, "delivered_at": rows.utc(now)}
                if not row.current:
                    values |= {
                        "state": AttemptState.CANCELLED.value,
                        "message": "the job left this attempt before the center took it",
                        "ended_at": rows.utc(now),
                    }
                guard = update(attempts).where(
                    attempts.c.job_id == attempt.job_id,
                    attempts.c.number == attempt.number,
                    not_(attempts.c.delivered),
                )
                # A poll of the same center in another process may have taken it first.
                taken = connection.execute(guard.values(values)).rowcount == 1
                if taken and row.current:
                    claimed.append(attempt)
                elif taken:  # ended unstarted: no usage, but every ending goes by the meter
                    usage_rows.record_attempt_end(connection, attempt.job_id, attempt.number)
            if not claimed:
                return []
            by_id = {
                row.id: rows.job_from_row(row)
                for row in connection.execute(
                    select(*rows.JOB_COLUMNS).where(jobs.c.id.in_([a.job_id for a in claimed]))
                )
            }
        return [(attempt, by_id[attempt.job_id]) for attempt in claimed]

    def save_attempt(
        self, attempt: Attempt, expected_state: AttemptState, job: Job | None = None, expected_version: int = 0
    ) -> None:
        statement = (
            update(attempts)
            .where(
                attempts.c.job_id == attempt.job_id,
                attempts.c.number == attempt.number,
                attempts.c.state == expected_state.value,
            )
            .values(
                state=attempt.state.value,
                exit_code=attempt.exit_code,
                message=attempt.message,
                started_at=rows.utc(attempt.started_at) if attempt.started_at else None,
                ended_at=rows.utc(attempt.ended_at) if attempt.ended_at else None,
                # An attempt that ended needs no delivery; one reported RUNNING was evidently delivered.
                **({} if attempt.state is AttemptState.ASSIGNED else {"delivered": True}),
            )
        )
        with self._store._write() as connection:
            if connection.execute(statement).rowcount != 1:
                raise StaleVersion(
                    f"attempt {attempt.number} of job {attempt.job_id} changed meanwhile; read it again and retry"
                )
            if attempt.state.is_final:  # its usage, in this same transaction (before the job lets go)
                usage_rows.record_attempt_end(connection, attempt.job_id, attempt.number)
            if job is not None and not job_queries.write_job(connection, job, expected_version):
                raise StaleVersion(f"job {job.id} was changed meanwhile; read it again and retry")

    # logs -----------------------------------------------------------------------------------------

    @staticmethod
    def _log_length(connection: Any, job_id: int, number: int) -> int:
        last = connection.execute(
            select(attempt_logs.c.offset, attempt_logs.c.data)
            .where(attempt_logs.c.job_id == job_id, attempt_logs.c.attempt == number)
            .order_by(attempt_logs.c.offset.desc())
            .limit(1)
        ).first()
        return 0 if last is None else int(last.offset) + len(last.data)

    def append_log(self, job_id: int, number: int, offset: int, data: bytes) -> int:
        """Stores ``data`` at ``offset`` if that is exactly the stored length; returns the stored
        length before the call (the caller compares it with ``offset``)."""
        with self._store._write() as connection:
            length = self._log_length(connection, job_id, number)
            if offset == length and data:
                connection.execute(
                    insert(attempt_logs), {"job_id": job_id, "attempt": number, "offset": offset, "data": data}
                )
            return length

    def read_log(self, job_id: int, number: int, offset: int, limit: int) -> tuple[bytes, int]:
        """Up to ``limit`` bytes from ``offset``, and the stored length."""
        c = attempt_logs.c
        statement = (
            select(c.offset, c.data)
            .where(c.job_id == job_id, c.attempt == number, c.offset < offset + limit)
            .where(
                or_(
                    c.offset >= offset,
                    c.offset
                    == select(c.offset)
                    .where(c.job_id == job_id, c.attempt == number, c.offset <= offset)
                    .order_by(c.offset.desc())
                    .limit(1)
                    .scalar_subquery(),
                )
            )
            .order_by(c.offset)
        )
        with self._store._read() as connection:
            found = connection.execute(statement).all()
            length = self._log_length(connection, job_id, number)
        if not found:
            return b"", length
        start = int(found[0].offset)
        data = b"".join(bytes(r.data) for r in found)
        return data[offset - start : offset - start + limit], length
