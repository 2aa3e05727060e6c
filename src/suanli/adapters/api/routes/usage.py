"""/api/v1/usage: usage records the asker may read, in the order they were written, or their sums
per day, center, accelerator, project or job."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from suanli.adapters.api.auth import Asker
from suanli.adapters.api.responses import json_response, problem_docs
from suanli.adapters.api.routes.audit import MOMENT_PATTERN, parse_moment
from suanli.adapters.api.routes.jobs import CURSOR_PATTERN, parse_cursor
from suanli.domain.errors import InvalidSpec
from suanli.domain.limits import MAX_ID, NO_NUL_PATTERN
from suanli.domain.usage import UsageGrouping, readable_usage
from suanli.protocol.usage import UsageGroupOut, UsagePageOut, UsageRecordOut, UsageSummaryOut
from suanli.services.usage import UsageFilter, UsageService


def moment_query(description: str) -> object:
    # The pattern is checked in moment(), which says what is wrong in words rather than a regex.
    return Query(description=description, json_schema_extra={"format": "date-time", "pattern": MOMENT_PATTERN})


def moment(value: str | None, field: str) -> datetime | None:
    if value is not None and not re.fullmatch(MOMENT_PATTERN, value):
        raise InvalidSpec(
            f"{value[:40]!r} is not a date and time with a zone (RFC 3339), e.g. 2026-12-01T18:00:00+08:00 "
            "or 2026-12-01T10:00:00Z",
            field=field,
        )
    return parse_moment(value, field)


_NAME_MAX = 63  # projects and centers: domain.identity.Name, domain.centers' names


def _name(description: str) -> object:
    return Query(max_length=_NAME_MAX, pattern=NO_NUL_PATTERN, description=description)


def usage_router(usage: UsageService) -> APIRouter:
    router = APIRouter(prefix="/usage", tags=["usage"])

    @router.get(
        "",
        response_model=UsagePageOut | UsageSummaryOut,
        responses=problem_docs(422),
        summary="Usage records (or their sums per group) of the jobs and centers the asker may see",
    )
    def read_usage(
        asker: Asker,
        project: Annotated[str | None, _name("only this project's usage")] = None,
        center: Annotated[str | None, _name("only the usage on this center")] = None,
        job: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this job's usage")] = None,
        since: Annotated[
            str | None, moment_query("records whose interval ends at or after this (RFC 3339, with a zone)")
        ] = None,
        until: Annotated[
            str | None, moment_query("records whose interval ends before this (RFC 3339, with a zone)")
        ] = None,
        group_by: Annotated[
            UsageGrouping | None,
            Query(description="sum the records per day (UTC), center, accelerator, project or job; none: list them"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="records per page (not used with group_by)")] = 100,
        cursor: Annotated[
            str | None,
            Query(description="next_cursor from the previous page", json_schema_extra={"pattern": CURSOR_PATTERN}),
        ] = None,
    ) -> Response:
        filter = UsageFilter(
            reach=readable_usage(asker),
            project=project or None,
            center=center or None,
            job_id=job,
            since=moment(since, "since"),
            until=moment(until, "until"),
        )
        if group_by is not None:
            groups = usage.summarize(filter, group_by)
            return json_response(
                UsageSummaryOut.model_construct(
                    group_by=group_by, items=[UsageGroupOut.from_summary(g) for g in groups], next_cursor=None
                )
            )
        page = usage.records(filter, after=parse_cursor(cursor), limit=limit)
        out = UsagePageOut.model_construct(
            group_by=None,
            items=[UsageRecordOut.from_record(r) for r in page.records],
            next_cursor=str(page.next_cursor) if page.next_cursor is not None else None,
        )
        return json_response(out)

    return router
