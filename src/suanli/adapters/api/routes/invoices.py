"""/api/v1/invoices/{organization} and /api/v1/statements/{owner}: what an organization owes for
a period, what a center owner earned in it; JSON, or CSV with ``?format=csv``."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from suanli.adapters.api.auth import Asker
from suanli.adapters.api.responses import json_response, problem_docs
from suanli.adapters.api.routes.usage import moment, moment_query
from suanli.domain.errors import Forbidden, InvalidSpec, NotFound
from suanli.domain.identity import Principal
from suanli.domain.invoices import Period, between, invoice_csv, month_of, parse_month, statement_csv
from suanli.domain.ledger import Account, AccountKind, readable_accounts
from suanli.domain.limits import NO_NUL_PATTERN
from suanli.protocol.invoices import InvoiceOut, StatementOut
from suanli.services.identity import IdentityService
from suanli.services.invoices import InvoiceService

Format = Literal["json", "csv"]
_PERIOD = Query(
    description="a calendar month in UTC, YYYY-MM (default: this month); or give since and until instead",
    json_schema_extra={"pattern": r"^\d{4}-\d{2}$"},
)
_FORMAT = Query(description="json (default), or csv: a header row, one row per line, a row of totals")


def invoices_router(invoices: InvoiceService, identity: IdentityService) -> APIRouter:
    router = APIRouter(tags=["billing"])

    def period_of(period: str | None, since: str | None, until: str | None) -> Period:
        if period is not None:
            if since is not None or until is not None:
                raise InvalidSpec("give a period, or since and until, not both", field="period")
            return parse_month(period)
        start, end = moment(since, "since"), moment(until, "until")
        if start is None and end is None:
            return month_of(invoices.rating.clock.now())
        if start is None or end is None:
            raise InvalidSpec("a period given by since needs until too, and until needs since", field="since")
        return between(start, end)

    def check(asker: Principal, kind: AccountKind, organization: str, what: str) -> None:
        """A platform admin reads any organization's; others their own organization's, if
        ``readable_accounts`` gives them its account of this kind (403 if they may read no such
        account at all); another organization's is not there (404)."""
        accounts = readable_accounts(asker)
        if accounts is not None and Account(kind, organization) not in accounts:
            if not any(account.kind is kind for account in accounts):
                raise Forbidden(f"your roles in {asker.organization} do not let you read its {what}")
            raise NotFound(f"there is no {what} of {organization!r} for you to read")
        if organization not in {o.name for o in identity.list_organizations(by=asker)}:
            raise NotFound(f"there is no organization {organization!r}")

    @router.get(
        "/invoices/{organization}",
        response_model=InvoiceOut,
        responses={**problem_docs(401, 403, 404, 422), 200: {"content": {"text/csv": {}}}},
        summary="An organization's invoice for a month (or any period): lines per center, pool and accelerator",
    )
    def read_invoice(
        asker: Asker,
        organization: Annotated[str, Path(max_length=63, pattern=NO_NUL_PATTERN)],
        period: Annotated[str | None, _PERIOD] = None,
        since: Annotated[str | None, moment_query("the period's start, included (RFC 3339, with a zone)")] = None,
        until: Annotated[str | None, moment_query("the period's end, excluded (RFC 3339, with a zone)")] = None,
        format: Annotated[Format, _FORMAT] = "json",
    ) -> Response:
        check(asker, AccountKind.RECEIVABLE, organization, "invoice")
        found = invoices.invoice(organization, period_of(period, since, until))
        if format == "csv":
            return _csv(invoice_csv(found), f"invoice-{organization}-{found.period.label}")
        return json_response(InvoiceOut.of(found))

    @router.get(
        "/statements/{owner}",
        response_model=StatementOut,
        responses={**problem_docs(401, 403, 404, 422), 200: {"content": {"text/csv": {}}}},
        summary="A center owner's statement for a month (or any period): gross, platform fee, net per pool",
    )
    def read_statement(
        asker: Asker,
        owner: Annotated[str, Path(max_length=63, pattern=NO_NUL_PATTERN)],
        period: Annotated[str | None, _PERIOD] = None,
        since: Annotated[str | None, moment_query("the period's start, included (RFC 3339, with a zone)")] = None,
        until: Annotated[str | None, moment_query("the period's end, excluded (RFC 3339, with a zone)")] = None,
        format: Annotated[Format, _FORMAT] = "json",
    ) -> Response:
        check(asker, AccountKind.PAYABLE, owner, "statement")
        found = invoices.statement(owner, period_of(period, since, until))
        if format == "csv":
            return _csv(statement_csv(found), f"statement-{owner}-{found.period.label}")
        return json_response(StatementOut.of(found))

    return router


def _csv(body: str, name: str) -> Response:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    headers = {"Content-Disposition": f'attachment; filename="{safe}.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)
