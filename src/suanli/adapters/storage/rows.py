"""Conversions between table rows and domain objects: the only place that knows both shapes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Text, cast
from sqlalchemy.engine import Row

from suanli.adapters.storage.tables import centers, jobs, scheduler_cycles
from suanli.domain.centers import Backend, Center, CenterKind, CenterSpec, CenterState, Pool
from suanli.domain.errors import InvalidSpec, invalid
from suanli.domain.job import Job, Placement
from suanli.domain.job_status import JobStatus
from suanli.domain.stored_specs import stored_spec
from suanli.services.ports import CycleRecord, NewJob

# The spec is read as JSON text and parsed by pydantic in one step (model_validate_json), which is
# several times faster than letting the driver build dicts first. On PostgreSQL the cast also stops
# psycopg from decoding the json column.
SPEC_TEXT = cast(jobs.c.spec, Text).label("spec_json")
JOB_COLUMNS = [c for c in jobs.c if c.name != "spec"] + [SPEC_TEXT]

_NO_PLACEMENT: dict[str, Any] = {
    "center": None,
    "pool": None,
    "accelerator": None,
    "accelerators_per_node": None,
    "node_indices": None,
    "price_per_hour": None,
    "placement_reason": None,
}


def utc(moment: datetime) -> datetime:
    """Aware UTC, the form rows come back in; a naive value is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# centers ------------------------------------------------------------------------------------------


def pools_value(pools: tuple[Pool, ...] | list[Pool]) -> list[dict[str, Any]]:
    return [pool.model_dump(mode="json") for pool in pools]


def center_values(spec: CenterSpec, now: datetime, organization: str) -> dict[str, Any]:
    return {
        "name": spec.name,
        "organization": organization,
        "owner": spec.owner,
        "kind": spec.kind.value,
        "region": spec.region,
        "backend": spec.backend.value,
        "state": CenterState.ONLINE.value,
        "pools": pools_value(spec.pools),
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def center_from_row(row: Row[Any]) -> Center:
    fields = {"name": row.name, "owner": row.owner, "kind": row.kind, "region": row.region, "backend": row.backend}
    seen, organization = row.last_seen, row.organization
    try:
        spec = CenterSpec(**fields, pools=tuple(Pool.model_validate(p) for p in row.pools))
    except ValidationError as error:
        # Registered under an earlier release's looser limits: kept as it was, and marked with a
        # problem, so it takes no new work (its agent's next hello replaces the pools) while
        # every other center is scheduled as usual.
        problem = invalid(error, "its registered pools break a limit; set them again", InvalidSpec).message
        unchecked = CenterSpec.model_construct(
            **fields | {"kind": CenterKind(row.kind), "backend": Backend(row.backend)},
            pools=tuple(Pool.model_construct(**p) for p in row.pools),
        )
        return Center(
            spec=unchecked,
            state=CenterState(row.state),
            version=row.version,
            problem=problem,
            last_seen=seen,
            organization=organization,
        )
    return Center(
        spec=spec,
        state=CenterState(row.state),
        version=row.version,
        problem=row.problem,
        last_seen=seen,
        organization=organization,
    )


CENTER_COLUMNS = list(centers.c)

# jobs ---------------------------------------------------------------------------------------------


def new_job(job_id: int, new: NewJob, now: datetime) -> Job:
    """The Job just inserted, built without reading it back (its values are known)."""
    return Job(
        id=job_id,
        tenant_id=new.tenant_id,
        spec=new.spec,
        submitted_at=now,
        updated_at=now,
        idempotency_key=new.idempotency_key,
    )


def placement_values(placement: Placement | None) -> dict[str, Any]:
    if placement is None:
        return dict(_NO_PLACEMENT)
    return {
        "center": placement.center,
        "pool": placement.pool,
        "accelerator": placement.accelerator,
        "accelerators_per_node": placement.accelerators_per_node,
        "node_indices": list(placement.node_indices),
        "price_per_hour": placement.price_per_hour,
        "placement_reason": placement.reason,
    }


def placement_from_row(row: Row[Any]) -> Placement | None:
    if row.center is None:
        return None
    return Placement(
        center=row.center,
        pool=row.pool,
        accelerator=row.accelerator,
        accelerators_per_node=row.accelerators_per_node,
        node_indices=tuple(row.node_indices or ()),
        price_per_hour=row.price_per_hour,
        reason=row.placement_reason or "",
    )


def job_from_row(row: Row[Any]) -> Job:
    """A Job from a row selected with JOB_COLUMNS."""
    return Job(
        id=row.id,
        tenant_id=row.tenant_id,
        spec=stored_spec(row.spec_json),
        status=JobStatus(row.status),
        version=row.version,
        attempts=row.attempts,
        placement=placement_from_row(row),
        message=row.message,
        submitted_at=row.submitted_at,
        updated_at=row.updated_at,
        idempotency_key=row.idempotency_key,
    )


# scheduler cycles ---------------------------------------------------------------------------------


def cycle_values(record: CycleRecord) -> dict[str, Any]:
    return {
        "holder": record.holder,
        "started_at": record.started_at,
        "placed": record.placed,
        "waiting": record.waiting,
        "duration_ms": record.duration_ms,
        "reservation": record.reservation,
        "extra": record.extra,
    }


def cycle_from_row(row: Row[Any]) -> CycleRecord:
    return CycleRecord(
        holder=row.holder,
        started_at=row.started_at,
        placed=row.placed,
        waiting=row.waiting,
        duration_ms=row.duration_ms,
        reservation=row.reservation,
        extra=dict(row.extra),
    )


CYCLE_COLUMNS = list(scheduler_cycles.c)
