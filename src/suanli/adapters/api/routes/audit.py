"""/api/v1/audit: list the audit log with filters, newest first; verify its hash chain."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from suanli.adapters.api.auth import Asker, organization_of
from suanli.adapters.api.responses import json_response, problem_docs
from suanli.adapters.api.routes.jobs import CURSOR_PATTERN, parse_cursor
from suanli.domain.audit import MAX_ACTION, MAX_ACTOR, MAX_RESULT
from suanli.domain.errors import InvalidSpec
from suanli.domain.limits import NO_NUL_PATTERN
from suanli.protocol.rest import AuditEntryOut, AuditPageOut, AuditProblemOut, AuditVerifyOut
from suanli.services.audit import AuditService
from suanli.services.ports import AuditFilter

_YEAR = "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_DAY = "(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,9})?"
_ZONE = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
MOMENT_PATTERN = f"^{_YEAR}-{_DAY}[Tt]{_TIME}{_ZONE}$"  # RFC 3339, with a zone


def parse_moment(value: str | None, field: str) -> datetime | None:
    """An RFC 3339 time (the pattern has checked its shape) in UTC; beyond the calendar's ends
    once moved to UTC, the end itself."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError:
        raise InvalidSpec(f"{value!r} is not a date and time, e.g. 2026-12-01T18:00:00+08:00", field=field) from None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def checked_moment_query(description: str) -> object:
    """A query parameter holding an RFC 3339 time, its pattern checked by FastAPI."""
    return Query(pattern=MOMENT_PATTERN, description=description, json_schema_extra={"format": "date-time"})


def audit_router(audit: AuditService) -> APIRouter:
    router = APIRouter(prefix="/audit", tags=["audit"])

    @router.get("", response_model=AuditPageOut, responses=problem_docs(422), summary="The audit log, newest first")
    def list_audit(
        asker: Asker,
        actor: Annotated[
            str | None, Query(max_length=MAX_ACTOR, pattern=NO_NUL_PATTERN, description="entries of this actor")
        ] = None,
        action: Annotated[
            str | None,
            Query(max_length=MAX_ACTION, pattern=NO_NUL_PATTERN, description="actions starting with this, e.g. POST"),
        ] = None,
        result: Annotated[
            str | None,
            Query(max_length=MAX_RESULT, pattern=NO_NUL_PATTERN, description="this result: 403, 201, denied, ..."),
        ] = None,
        since: Annotated[
            str | None, checked_moment_query("entries at or after this time (RFC 3339, with a zone)")
        ] = None,
        until: Annotated[str | None, checked_moment_query("entries before this time (RFC 3339, with a zone)")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[
            str | None,
            Query(description="next_cursor from the previous page", json_schema_extra={"pattern": CURSOR_PATTERN}),
        ] = None,
    ) -> Response:
        filter = AuditFilter(
            actor=actor,
            action_prefix=action or None,
            result=result,
            since=parse_moment(since, "since"),
            until=parse_moment(until, "until"),
            organization=organization_of(asker),  # a platform admin reads every organization's
        )
        page = audit.list(filter, before=parse_cursor(cursor), limit=limit)
        out = AuditPageOut.model_construct(
            entries=[AuditEntryOut.from_entry(e) for e in page.entries],
            next_cursor=str(page.next_cursor) if page.next_cursor is not None else None,
        )
        return json_response(out)

    @router.get(
        "/verify",
        response_model=AuditVerifyOut,
        summary="Check every entry's hash and its link to the one before: names each edited or missing entry",
    )
    def verify_audit() -> Response:
        result = audit.verify()
        problems = [AuditProblemOut(sequence=p.sequence, kind=p.kind, message=p.message) for p in result.problems]
        last = result.last
        out = AuditVerifyOut(
            ok=result.ok,
            entries=result.entries,
            last_sequence=last.sequence if last is not None else 0,
            last_hash=last.hash if last is not None else "",
            problems=problems,
        )
        return json_response(out)

    return router
